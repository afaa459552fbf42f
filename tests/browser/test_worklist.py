"""The worklist in Chromium (SPEC 5.1, 8.2): a practitioner's sections in order, red flags
first; it refreshes itself (every second here) and a section changes on the page when the
data changes, while the focus and what was typed in the invitation form stay put; a section
with the focus inside waits; "my patients / all" by links; axe-core finds nothing."""
from __future__ import annotations

import re

import pytest
from flask import current_app
from playwright.sync_api import Page, expect
from sqlalchemy import update

from portal.auth import services as auth_services
from portal.extensions import db
from portal.models import Patient
from tests.browser.helpers import (
    check_a11y,
    enter_code,
    horizontal_overflow,
    next_totp,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.intake.helpers import make_intake

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    app_config["WORKLIST_REFRESH_SECONDS"] = 1
    return app_config


def patient_of(practitioner, name: str):
    user = make_patient(name=name)
    db.session.execute(update(Patient).where(Patient.user_id == user.id)
                       .values(practitioner_id=practitioner.id))
    db.session.commit()
    return user


def test_the_worklist_refreshes_around_the_practitioner(live_server, page: Page):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    make_intake(patient_of(doctor, "Rita Redflag"), rf_bladder_bowel="yes")
    make_intake(patient_of(doctor, "Nina Newintake"))
    other = make_practitioner(name="Dr. Camille Tremblay")
    make_intake(patient_of(other, "Theo Theirs"), rf_fever="yes")
    make_intake(patient_of(other, "Olga Other"))

    sign_in(page, base, doctor.email, PASSWORD)
    enter_code(page, totp_now(doctor.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    headings = page.locator("main h2")
    # Red flags are the whole clinic's, whatever "my patients" shows (SPEC 5.1).
    expect(headings.first).to_have_text(re.compile(r"^Red flags\s+2$"))
    # Then a withdrawal of consent (none here), then the new intakes (SPEC 5.1, 11.1).
    expect(headings.nth(1)).to_have_text(re.compile(r"^Consent withdrawn\s+0$"))
    expect(headings.nth(2)).to_have_text(re.compile(r"^New intakes to review\s+1$"))
    red = page.get_by_role("region", name=re.compile("^Red flags"))
    expect(red).to_contain_text("Rita Redflag")
    expect(red).to_contain_text("Theo Theirs")  # a colleague's patient
    new = page.get_by_role("region", name=re.compile("^New intakes to review"))
    expect(new).not_to_contain_text("Olga Other")  # a colleague's patient
    check_a11y(page, "worklist")
    assert small_touch_targets(page) == []

    # Typing an invitation while sections change around it.
    invite = page.get_by_role("region", name="Invite a patient")
    invite.get_by_label("Full name").fill("Pia Typing")
    email = invite.get_by_label("E-mail address")
    email.click()
    email.press_sequentially("pia@exa", delay=20)
    make_intake(patient_of(doctor, "Newton Newer"))
    with current_app.test_request_context():
        auth_services.invite(doctor, "ivy@example.org", "Ivy Invited", "patient")
    new = page.get_by_role("region", name=re.compile("^New intakes to review"))
    expect(new).to_contain_text("Newton Newer", timeout=10_000)
    expect(new.get_by_role("heading", level=2)).to_have_text(
        re.compile(r"^New intakes to review\s+2$"))
    expect(page.locator("#invitations")).to_contain_text("Ivy Invited", timeout=10_000)
    expect(email).to_be_focused()
    expect(email).to_have_value("pia@exa")
    expect(invite.get_by_label("Full name")).to_have_value("Pia Typing")
    email.press_sequentially("mple.org", delay=20)
    expect(email).to_have_value("pia@example.org")
    # The change was said in the polite live region.
    expect(page.locator("#worklist-news")).not_to_be_empty()

    # A section with the keyboard's focus inside waits until the focus leaves.
    link = red.get_by_role("link", name=re.compile("Read the intake of Rita"))
    link.focus()
    make_intake(patient_of(doctor, "Fred Flagged"), rf_weight_loss="yes")
    page.wait_for_timeout(3000)  # three refreshes
    expect(red).not_to_contain_text("Fred Flagged")
    expect(link).to_be_focused()
    page.locator("main h1").click()  # the focus goes to <main>, outside the section
    expect(red).to_contain_text("Fred Flagged", timeout=10_000)
    check_a11y(page, "worklist-refreshed")

    # Everyone's patients: a link, the choice in the address.
    page.get_by_role("navigation", name="Whose patients").get_by_role(
        "link", name="All patients").click()
    expect(page).to_have_url(f"{base}/clinic/?who=all")
    expect(page.get_by_role("link", name="All patients")).to_have_attribute("aria-current", "true")
    expect(new).to_contain_text("Olga Other")
    check_a11y(page, "worklist-all")



def test_on_a_phone_and_without_javascript(live_server, open_page):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    make_intake(patient_of(doctor, "Rita Redflag"), rf_bladder_bowel="yes")
    colleague = make_practitioner()
    make_intake(patient_of(colleague, "Theo Theirs"), rf_fever="yes")
    make_intake(patient_of(colleague, "Olga Other"))
    phone = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(phone, base, doctor.email, PASSWORD)
    enter_code(phone, totp_now(doctor.totp_secret_plain))
    expect(phone.get_by_role("region", name=re.compile("^Red flags"))).to_contain_text(
        "Rita Redflag")
    check_a11y(phone, "worklist-phone")
    assert horizontal_overflow(phone) == 0
    assert small_touch_targets(phone) == []

    # Without JavaScript (no htmx, no refresh): the same page, plain links and a plain form.
    # (Nothing here evaluates script in the page: with JavaScript off that would never end.)
    page = open_page(java_script_enabled=False)
    sign_in(page, base, doctor.email, PASSWORD)
    enter_code(page, next_totp(doctor.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    red = page.get_by_role("region", name=re.compile("^Red flags"))
    expect(red).to_contain_text("Rita Redflag")
    expect(red).to_contain_text("Theo Theirs")  # the whole clinic's
    new = page.get_by_role("region", name=re.compile("^New intakes to review"))
    expect(new).not_to_contain_text("Olga Other")
    page.get_by_role("link", name="All patients").click()
    expect(page).to_have_url(f"{base}/clinic/?who=all")
    expect(new).to_contain_text("Olga Other")
    page.get_by_label("Full name").fill("Pia Plain")
    page.get_by_label("E-mail address").fill("pia@example.org")
    page.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_url(f"{base}/clinic/?who=all")
    expect(page.locator("#flash")).to_contain_text("Invitation sent to pia@example.org.")
    expect(page.get_by_role("region", name=re.compile("^Invitations not yet accepted"))
           ).to_contain_text("Pia Plain")
