"""The consent discussion in Chromium (SPEC 4.1, 8.2): on a phone (390 and 320 px wide), a
practitioner opens the form in the chart's header and records the discussion with the
keyboard only (Tab, Space, Enter): a box left unticked is named by its field, then the
chart says the consent was discussed, by whom. No axe violation on the way, and the page
fits the screen."""
from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from portal.extensions import db
from portal.intake import consent as consents
from portal.models import Patient
from tests.browser.helpers import (
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    totp_now,
)
from tests.factories import PASSWORD, make_practitioner
from tests.treatment.helpers import make_treatable

pytestmark = pytest.mark.browser


def focused(locator: Locator) -> bool:
    return locator.evaluate("el => el === document.activeElement")


def tab_to(page: Page, locator: Locator, limit: int = 120) -> None:
    """Press Tab until ``locator`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if focused(locator):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


@pytest.mark.parametrize("width", [390, 320])
def test_recording_the_discussion_with_the_keyboard_on_a_phone(open_page, live_server, width):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    user = make_treatable(name="Sam Signed", discussed=False)
    chart = f"{base}/clinic/patients/{user.patient.public_id}/"

    page = open_page(viewport={"width": width, "height": 800}, device_scale_factor=2)
    sign_in(page, base, doctor.email, PASSWORD)
    enter_code(page, totp_now(doctor.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(chart)
    consent = page.locator("#chart-consent")
    expect(consent).to_contain_text("discussion not recorded")
    check_a11y(page, f"consent-discussion-closed-{width}")

    # Open the form: Tab to its summary, Enter.
    opener = page.locator("#consent-discussion > summary")
    tab_to(page, opener)
    page.keyboard.press("Enter")
    explained = page.get_by_label("I explained the risks, the benefits and the alternatives.")
    expect(explained).to_be_visible()
    expect(page.get_by_label("Date of the discussion")).not_to_have_value("")
    check_a11y(page, f"consent-discussion-open-{width}")
    assert horizontal_overflow(page) == 0

    # Two boxes ticked with Space, the third forgotten; Enter on the button.
    tab_to(page, explained)
    page.keyboard.press("Space")
    questions = page.get_by_label("I answered the patient's questions.")
    tab_to(page, questions)
    page.keyboard.press("Space")
    note = page.get_by_label("Note (optional)")
    tab_to(page, note)
    page.keyboard.type("Asked about bruising.")
    submit = page.get_by_role("button", name="Record the discussion", exact=True)
    tab_to(page, submit)
    page.keyboard.press("Enter")
    agrees = page.get_by_label("The patient agrees to IMS treatment.")
    expect(page.locator("#consent-agrees-error")).to_contain_text(
        "only if the patient agrees")
    expect(agrees).to_have_attribute("aria-invalid", "true")
    # Nothing typed is lost.
    expect(explained).to_be_checked()
    expect(questions).to_be_checked()
    expect(note).to_have_value("Asked about bruising.")
    check_a11y(page, f"consent-discussion-error-{width}")

    tab_to(page, agrees)
    page.keyboard.press("Space")
    tab_to(page, submit)
    page.keyboard.press("Enter")
    expect(page).to_have_url(chart)
    expect(consent).to_contain_text("discussed on")
    expect(consent).to_contain_text("by Dr. Jordan Lee")
    expect(page.locator("#flash")).to_contain_text("The consent discussion is recorded.")
    expect(page.locator("#consent-discussion")).to_have_count(0)
    check_a11y(page, f"consent-discussion-recorded-{width}")
    assert horizontal_overflow(page) == 0

    db.session.expire_all()
    patient = db.session.get(Patient, user.patient.id)
    state = consents.state(patient)
    assert state.kind == "complete" and state.discussion.discussed_by_id == doctor.id
    assert state.discussion.note == "Asked about bruising."
