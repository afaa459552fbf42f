"""The patient chart in Chromium (SPEC 5.3, 8.2, 8.3): a practitioner opens a chart from the
patient list, moves through its tabs with the keyboard (htmx swaps the panel only; the tab
list, the heading and the title follow and the focus lands on the panel heading), the back
button brings the previous tab back, and no tab has an axe violation. On a phone the summary
fits the screen with 44 px targets."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import Patient
from tests.browser.helpers import (
    body_font_px,
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.factories import PASSWORD, make_document, make_practitioner
from tests.treatment.helpers import history, make_treatable

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
TABS = ["Summary", "Intake", "Documents", "Sessions", "Ratings", "Activity"]
PANELS = {"Summary": "#chart-summary", "Intake": "#staff-intake",
          "Documents": "#patient-documents", "Sessions": "#patient-sessions",
          "Ratings": "#chart-ratings", "Activity": "#chart-activity"}


def _margaret(doctor):
    user = make_treatable(name="Margaret Côté")
    history(user, [5, 4, 4, 3], practitioner=doctor)
    make_document(user, kind="imaging", name="x-ray.pdf")
    patient = db.session.get(Patient, user.patient.id)
    patient.practitioner_id = doctor.id
    db.session.commit()
    return user


def _tab(page: Page, name: str):
    return page.get_by_role("navigation", name="Patient chart").get_by_role(
        "link", name=name, exact=True)


def _on_tab(page: Page, name: str, base: str, chart: str) -> None:
    """The tab ``name`` is shown: its panel, its address, the tab list and the title."""
    expect(page.locator(PANELS[name])).to_be_visible()
    expect(page.locator("#chart-panel-title")).to_have_text(name)
    expect(_tab(page, name)).to_have_attribute("aria-current", "page")
    expect(page.locator(".chart-tabs [aria-current]")).to_have_count(1)
    expect(page).to_have_title(re.compile(f"^{name} · Margaret Côté · "))
    suffix = "" if name == "Summary" else name.lower()
    expect(page).to_have_url(f"{base}{chart}{suffix}")


def test_tabs_by_keyboard_and_back_button(open_page, live_server):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    user = _margaret(doctor)
    chart = f"/clinic/patients/{user.patient.public_id}/"

    desk = open_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, base, doctor.email, PASSWORD)
    enter_code(desk, totp_now(doctor.totp_secret_plain))
    expect(desk).to_have_url(f"{base}/clinic/")
    desk.goto(f"{base}/clinic/patients/")
    desk.get_by_role("link", name="Margaret Côté", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Margaret Côté")
    _on_tab(desk, "Summary", base, chart)
    expect(desk.locator("#summary-nprs")).to_contain_text("Meaningful improvement")
    check_a11y(desk, "chart-summary")

    # A mark on the window: it survives only if the tabs swap the panel, not the page.
    desk.evaluate("() => { window.chartMark = 1; }")
    # From the current tab, Tab moves to the next one and Enter opens it.
    _tab(desk, "Summary").focus()
    desk.keyboard.press("Tab")
    expect(_tab(desk, "Intake")).to_be_focused()
    desk.keyboard.press("Enter")
    _on_tab(desk, "Intake", base, chart)
    expect(desk.locator("#chart-panel-title")).to_be_focused()
    check_a11y(desk, "chart-intake")

    for name in TABS[2:]:
        _tab(desk, name).focus()
        desk.keyboard.press("Enter")
        _on_tab(desk, name, base, chart)
        expect(desk.locator("#chart-panel-title")).to_be_focused()
        check_a11y(desk, f"chart-{name.lower()}")
    assert desk.evaluate("() => window.chartMark") == 1

    # The back button: the previous tab again, from the server, whole.
    desk.go_back()
    _on_tab(desk, "Ratings", base, chart)
    desk.go_back()
    _on_tab(desk, "Sessions", base, chart)
    check_a11y(desk, "chart-back-to-sessions")
    desk.go_forward()
    _on_tab(desk, "Ratings", base, chart)

    # The discharge form opens in place, without script of its own.
    desk.get_by_text("Discharge the patient", exact=True).click()
    expect(desk.get_by_label("Reason for discharge")).to_be_visible()
    check_a11y(desk, "chart-discharge-open")
    # Discharged: the header says when and why; re-admitting takes it away again.
    desk.get_by_label("Reason for discharge").select_option("completed")
    desk.get_by_role("button", name="Discharge", exact=True).click()
    facts = desk.locator(".chart-header__facts")
    expect(facts).to_contain_text("Treatment completed")
    check_a11y(desk, "chart-discharged")
    desk.get_by_role("button", name="Re-admit the patient").click()
    expect(desk.get_by_text("Discharge the patient", exact=True)).to_be_visible()
    expect(facts).not_to_contain_text("Treatment completed")


def test_summary_on_a_phone(open_page, live_server):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    user = _margaret(doctor)
    phone = open_page(**PHONE)
    sign_in(phone, base, doctor.email, PASSWORD)
    enter_code(phone, totp_now(doctor.totp_secret_plain))
    expect(phone).to_have_url(f"{base}/clinic/")
    phone.goto(f"{base}/clinic/patients/{user.patient.public_id}/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Margaret Côté")
    check_a11y(phone, "chart-phone-summary")
    assert horizontal_overflow(phone) == 0, "the chart scrolls sideways"
    assert body_font_px(phone) >= 16
    assert small_touch_targets(phone) == []
    _tab(phone, "Ratings").tap()
    expect(phone.locator("#chart-ratings")).to_be_visible()
    check_a11y(phone, "chart-phone-ratings")
    assert horizontal_overflow(phone) == 0, "the ratings tab scrolls sideways"
