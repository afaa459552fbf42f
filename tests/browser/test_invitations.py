"""The way people join, end to end in Chromium (SPEC 1.2, 1.4, 1.7, 8.1, 8.2): an admin invites
a practitioner, who sets a password and is made to set up two-step sign-in; the practitioner
invites a patient from the worklist; the patient joins and signs out; the practitioner signs
in again with a fresh code. Once in English, once in French (Canada)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.clinic_settings import current_settings
from portal.extensions import db
from tests.browser.helpers import (
    check_a11y,
    enter_code,
    identity,
    mailed_link,
    next_totp,
    sign_in,
    sign_out,
    totp_now,
)
from tests.factories import PASSWORD, make_admin

pytestmark = pytest.mark.browser

PRACTITIONER_PASSWORD = "maple syrup on a cold morning"
PATIENT_PASSWORD = "blue heron by the river bank"


def admin_invites_practitioner(page: Page, base: str, smtp, admin, name: str, email: str,
                               t, shot: str) -> str:
    sign_in(page, base, admin.email, PASSWORD, t, name=f"{shot}-login")
    enter_code(page, totp_now(admin.totp_secret_plain), t, name=f"{shot}-mfa")
    expect(page).to_have_url(f"{base}/clinic/")
    page.get_by_role("navigation").get_by_role("link", name=t("Administration")).click()
    expect(page).to_have_url(f"{base}/admin/")
    check_a11y(page, f"{shot}-admin")
    # Two forms on this page have a name field; each label must reach its own field.
    expect(page.get_by_label(t("Clinic name"))).to_have_id("clinic-name")

    invite = page.get_by_role("region", name=t("Invite a practitioner"))
    invite.get_by_label(t("Full name")).fill(name)
    invite.get_by_label(t("E-mail address")).fill(email)
    sent = len(smtp.messages)
    invite.get_by_role("button", name=t("Send invitation"), exact=True).click()
    expect(page.locator("#flash")).to_contain_text(t("Invitation sent to %(email)s.", email=email))
    check_a11y(page, f"{shot}-admin-invited")
    return mailed_link(smtp, "/auth/invite/", sent)


def accept_invitation(page: Page, link: str, name: str, password: str, t, shot: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Welcome, %(name)s", name=name))
    check_a11y(page, f"{shot}-accept")
    page.get_by_label(t("New password")).fill(password)
    page.get_by_label(t("Type the password again")).fill(password)
    page.get_by_role("button", name=t("Create my account"), exact=True).click()


def set_up_two_step(page: Page, base: str, t, shot: str) -> str:
    """Forced enrolment after the invitation; returns the TOTP secret the page showed."""
    expect(page).to_have_url(f"{base}/auth/mfa/setup")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Set up two-step sign-in"))
    expect(page.locator(".qr svg")).to_be_visible()
    check_a11y(page, f"{shot}-mfa-setup")
    secret = re.sub(r"\s", "", page.locator("#totp-secret").inner_text())
    page.get_by_label(t("Code")).fill(totp_now(secret))
    page.get_by_role("button", name=t("Turn on two-step sign-in"), exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your recovery codes"))
    codes = page.locator("#recovery-codes li")
    expect(codes.first).to_be_visible()
    assert codes.count() >= 5
    check_a11y(page, f"{shot}-recovery-codes")
    page.get_by_role("link", name=t("I have saved my codes, continue")).click()
    expect(page).to_have_url(f"{base}/clinic/")
    return secret


def practitioner_invites_patient(page: Page, smtp, name: str, email: str, t, shot: str) -> str:
    check_a11y(page, f"{shot}-worklist")
    invite = page.get_by_role("region", name=t("Invite a patient"))
    invite.get_by_label(t("Full name")).fill(name)
    invite.get_by_label(t("E-mail address")).fill(email)
    sent = len(smtp.messages)
    with page.expect_response(lambda r: r.url.endswith("/clinic/invitations")) as answer:
        invite.get_by_role("button", name=t("Send invitation"), exact=True).click()
    # htmx swapped the panel in place (no page load): the request said so.
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(page.locator("#flash")).to_contain_text(t("Invitation sent to %(email)s.", email=email))
    expect(page.get_by_role("region", name=t("Invitations not yet accepted"))).to_contain_text(name)
    check_a11y(page, f"{shot}-worklist-invited")
    return mailed_link(smtp, "/auth/invite/", sent)


def run_invitation_flow(open_page, live_server, admin, staff_t, patient_t, shot: str,
                        staff_context: dict, patient_context: dict, before_patient_joins=None):
    base, smtp = live_server.url, live_server.smtp

    admin_page = open_page(**staff_context)
    link = admin_invites_practitioner(admin_page, base, smtp, admin, "Dana Okafor",
                                      "dana@example.org", staff_t, shot)

    practitioner = open_page(**staff_context)
    accept_invitation(practitioner, link, "Dana Okafor", PRACTITIONER_PASSWORD, staff_t,
                      f"{shot}-practitioner")
    secret = set_up_two_step(practitioner, base, staff_t, shot)
    link = practitioner_invites_patient(practitioner, smtp, "Léa Tremblay", "lea@example.org",
                                        staff_t, shot)
    # The link opened in the practitioner's own browser signs no one out (a GET never
    # does): the page says who is signed in and offers a sign-out, or staying.
    practitioner.goto(link)
    expect(practitioner.get_by_role("heading", level=1)).to_have_text(
        staff_t("You are signed in"))
    check_a11y(practitioner, f"{shot}-invitation-while-signed-in")
    practitioner.get_by_role("link", name=staff_t("Stay signed in")).click()
    expect(practitioner).to_have_url(f"{base}/clinic/")

    patient = open_page(**patient_context)
    if before_patient_joins:
        patient.goto(link)
        before_patient_joins(patient)
    accept_invitation(patient, link, "Léa Tremblay", PATIENT_PASSWORD, patient_t,
                      f"{shot}-patient")
    expect(patient).to_have_url(f"{base}/me/")
    expect(patient.get_by_role("heading", level=1)).to_have_text(
        patient_t("Hello, %(name)s", name="Léa Tremblay"))
    check_a11y(patient, f"{shot}-patient-home")
    sign_out(patient, base, patient_t, name=f"{shot}-patient-signed-out")

    # Back the next day, say: sign-in with a code from a step not used yet.
    sign_out(practitioner, base, staff_t)
    sign_in(practitioner, base, "dana@example.org", PRACTITIONER_PASSWORD, staff_t)
    enter_code(practitioner, next_totp(secret), staff_t)
    expect(practitioner).to_have_url(f"{base}/clinic/")
    sign_out(practitioner, base, staff_t)
    return admin_page, practitioner, patient


def test_invitation_to_sign_out_in_english(open_page, live_server):
    admin = make_admin()
    run_invitation_flow(open_page, live_server, admin, identity, identity, "en",
                        staff_context={}, patient_context={})


def test_invitation_to_sign_out_in_french(open_page, live_server, translate):
    """French through both doors: the staff browsers ask for fr-CA (Accept-Language) and the
    patient, whose browser asks for English, presses the "Français" button.

    Locators and texts go through ``translate``, which gives what the server renders: while a
    string has no French translation yet (portal/translations/fr_CA is being filled in), that
    is the English text, so these checks rely on the lang attribute and on the language
    switcher, which do not depend on the catalogue being complete."""
    admin = make_admin(locale="fr_CA")
    # A French-speaking clinic: invitations default to French (the person invited gets the
    # language chosen in the invitation form, which starts at the clinic's).
    current_settings().locale = "fr_CA"
    db.session.commit()
    fr = translate("fr_CA")
    french = {"locale": "fr-CA"}

    def switch_to_french(page: Page):
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_role("button", name="Français", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "fr-CA")
        # The switcher now offers the way back, labelled in its own language.
        expect(page.get_by_role("button", name="English", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="English", exact=True)) \
            .to_have_attribute("lang", "en")

    admin_page, practitioner, patient = run_invitation_flow(
        open_page, live_server, admin, fr, fr, "fr", staff_context=french,
        patient_context={"locale": "en-CA"}, before_patient_joins=switch_to_french)

    for page in (admin_page, practitioner, patient):
        expect(page.locator("html")).to_have_attribute("lang", "fr-CA")
    # Two strings whose French is in portal/translations/fr_CA/LC_MESSAGES/messages.po.
    expect(patient.get_by_role("heading", level=1)).to_have_text("Se connecter")
    # The patient's choice was saved on the new account: a fresh browser that asks for
    # English still gets French after signing in.
    again = open_page(locale="en-CA")
    sign_in(again, live_server.url, "lea@example.org", PATIENT_PASSWORD)  # anonymous: English
    expect(again).to_have_url(f"{live_server.url}/me/")
    expect(again.locator("html")).to_have_attribute("lang", "fr-CA")
    expect(again.get_by_role("heading", level=1)).to_have_text("Bonjour, Léa Tremblay")
    check_a11y(again, "fr-patient-home-again")
