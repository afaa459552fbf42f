"""The safety check in a real browser (SPEC 4.2, 5.1): a French patient on a phone (320 and
390 px) answers the check on the home page with the keyboard and sees the urgent advice at
once; a practitioner who is not the patient's acknowledges the red flag from the worklist,
with a note, by keyboard only; the chart then says who acknowledged it. axe-core on every
page reached, screenshots in test-artifacts/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    body_font_px,
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.factories import PASSWORD, make_practitioner
from tests.treatment.helpers import make_treatable, record

pytestmark = pytest.mark.browser


def check_phone(page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"
    assert body_font_px(page) >= 16
    assert small_touch_targets(page) == [], f"{name}: touch targets under 44 px"


@pytest.mark.parametrize("width", [320, 390])
def test_a_safety_yes_on_the_phone_then_acknowledged_by_keyboard(open_page, live_server,
                                                                 translate, width):
    t = translate("fr_CA")
    base = live_server.url
    doctor = make_practitioner(name="Dr. Camille Tremblay")
    colleague = make_practitioner(name="Dr. Jordan Lee")
    patient = make_treatable(name="Isabelle Roy", locale="fr_CA")
    patient.patient.practitioner_id = doctor.id
    from portal.extensions import db
    db.session.commit()
    # The colleague has a patient of their own: their worklist opens on "my patients".
    own = make_treatable(name="Olive Own")
    own.patient.practitioner_id = colleague.id
    db.session.commit()
    session = record(patient, doctor, hours_ago=0.2)

    phone = open_page(viewport={"width": width, "height": 800}, device_scale_factor=2,
                      is_mobile=True, has_touch=True, locale="fr-CA")
    sign_in(phone, base, patient.email, PASSWORD, t=t)
    expect(phone).to_have_url(f"{base}/me/")
    card = phone.locator(f"#safety-check-{session.public_id}")
    expect(card).to_be_visible()
    expect(card.locator(".urgent-advice--live")).to_be_hidden()
    check_phone(phone, f"safety-phone-{width}-check")

    # Keyboard only: Tab to the chest pain box, Space ticks it; the advice shows at once.
    box = card.get_by_role("checkbox", name=t("Chest pain"))
    box.focus()
    phone.keyboard.press("Space")
    expect(box).to_be_checked()
    expect(card.locator(".urgent-advice--live")).to_be_visible()
    expect(card.locator(".urgent-advice--live")).to_contain_text(t("Get medical help now"))
    card.get_by_role("button", name=t("Send what I ticked")).focus()
    phone.keyboard.press("Enter")
    advice = phone.locator("#safety-advice")
    expect(advice).to_be_visible()
    expect(advice).to_contain_text(
        t("Call 911 or go to the nearest emergency department now. Do not drive yourself."))
    expect(phone.get_by_role("checkbox")).to_have_count(0)
    check_phone(phone, f"safety-phone-{width}-advice")
    # Reloaded, the home page keeps the advice while the clinic has not acknowledged it.
    phone.reload()
    expect(phone.locator("#safety-advice")).to_be_visible()
    expect(phone.get_by_role("link", name=t("I have a problem after my session"))).to_be_visible()

    # --- a colleague, on "my patients", acknowledges it by keyboard ------------------------
    desk = open_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, base, colleague.email, PASSWORD)
    enter_code(desk, totp_now(colleague.totp_secret_plain))
    expect(desk).to_have_url(f"{base}/clinic/")
    expect(desk.locator(".worklist-who [aria-current]")).to_have_text("My patients")
    red = desk.locator("#red-flags")
    expect(red).to_contain_text("Isabelle Roy")
    expect(red).to_contain_text("Chest pain")
    check_a11y(desk, f"safety-worklist-{width}")
    note = red.get_by_role("textbox", name="Your note (required)")
    note.focus()
    desk.keyboard.press("Tab")
    desk.keyboard.press("Enter")  # no note: refused, the field says why
    expect(desk.locator("#red-flags")).to_contain_text("Write a note of at least 3 characters")
    note = desk.locator("#red-flags").get_by_role("textbox", name="Your note (required)")
    note.focus()
    desk.keyboard.type("Phoned her: she is at the ED with her husband.")
    desk.keyboard.press("Tab")
    desk.keyboard.press("Enter")
    expect(desk.locator("#flash")).to_contain_text("Acknowledged.")
    expect(desk.locator("#red-flags")).not_to_contain_text("Isabelle Roy")
    check_a11y(desk, f"safety-acknowledged-{width}")

    # The chart says who acknowledged it, and what they wrote (the patient's practitioner
    # reads the same: tests/treatment/test_safety.py).
    desk.goto(f"{base}/clinic/patients/{patient.patient.public_id}/sessions")
    reports = desk.locator("#safety-reports")
    expect(reports).to_contain_text("Acknowledged by Dr. Jordan Lee")
    expect(reports).to_contain_text("Phoned her: she is at the ED with her husband.")
