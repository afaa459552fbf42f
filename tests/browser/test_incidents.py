"""The privacy incident register in Chromium on a phone (SPEC 11.2, 8.2): at 320 px an admin
goes from the admin home to the register, records an incident (a missing reasoning is named
beside its field, with what was typed kept), sees it counted as a notification outstanding
on the admin home, then adds the dates the regulator and the people were notified, and the
entry reads "Notified". No axe violation on the way, and every page fits the screen."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_a11y, enter_code, horizontal_overflow, sign_in, totp_now
from tests.factories import PASSWORD, make_admin, make_patient

pytestmark = pytest.mark.browser


def test_recording_an_incident_then_its_notifications_on_a_phone(open_page, live_server):
    base = live_server.url
    admin = make_admin(name="Alex Admin")
    patient = make_patient(name="Rosa Ouellet")
    pid = patient.patient.public_id

    page = open_page(viewport={"width": 320, "height": 740}, device_scale_factor=2)
    sign_in(page, base, admin.email, PASSWORD)
    enter_code(page, totp_now(admin.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/admin/")
    page.get_by_role("link", name="Privacy incident register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy incident register")
    expect(page.get_by_text("No incident recorded.")).to_be_visible()
    check_a11y(page, "incidents-empty-320")
    page.get_by_role("link", name="Record an incident").click()

    # The discovery starts at now; the reasoning is forgotten.
    expect(page.get_by_label("Date discovered")).not_to_have_value("")
    page.get_by_label("What happened").fill("Appointment summary e-mailed to a former address.")
    page.get_by_label("Whose records").fill(pid)
    page.get_by_label("How many people (optional)").fill("1")
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Record the incident").click()
    expect(page.locator("#risk_reasoning-error")).to_contain_text("Explain why there is")
    expect(page.get_by_label("What happened")).to_have_value(
        "Appointment summary e-mailed to a former address.")
    expect(page.get_by_label("Yes", exact=True)).to_be_checked()
    check_a11y(page, "incident-new-errors-320")
    assert horizontal_overflow(page) == 0

    page.locator("#risk_reasoning").fill("Diagnosis in the summary; recipient unknown.")
    page.get_by_role("button", name="Record the incident").click()
    expect(page.get_by_text("The incident is recorded in the register.")).to_be_visible()
    expect(page.get_by_text("Notification outstanding")).to_be_visible()
    expect(page.get_by_role("link", name="Rosa Ouellet")).to_have_attribute(
        "href", f"/clinic/patients/{pid}/")
    check_a11y(page, "incident-320")
    assert horizontal_overflow(page) == 0
    entry = page.url

    page.goto(f"{base}/admin/")
    expect(page.locator("#privacy")).to_contain_text(
        "1 incident with notification outstanding")

    # The notifications, the same minute as the discovery.
    page.goto(entry)
    page.get_by_text("Correct or complete this entry").click()
    day = page.locator("#discovered_day").input_value()
    minute = page.locator("#discovered_time").input_value()
    page.get_by_label("Date the regulator was notified").fill(day)
    page.get_by_label("Time the regulator was notified").fill(minute)
    page.get_by_label("Date the people were notified").fill(day)
    page.get_by_label("Time the people were notified").fill(minute)
    check_a11y(page, "incident-edit-320")
    assert horizontal_overflow(page) == 0
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_text("The changes are saved.")).to_be_visible()
    expect(page.get_by_text("Notified", exact=True)).to_be_visible()
    expect(page.get_by_text("Notification outstanding")).to_have_count(0)
    page.goto(f"{base}/admin/")
    expect(page.locator("#privacy")).not_to_contain_text("notification outstanding")
