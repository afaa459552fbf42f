"""Withdrawing consent and closing the account in Chromium, on a phone (SPEC 11.1, 8.2):
(1) the patient withdraws their consent (refused without the password, said by the field,
then done with it) and gives it again from their home page; (2) the patient closes their
account (refused without the tick and the password), is told until when the record is kept,
and can no longer sign in. No axe violation on the way, and every page fits the screen."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.intake import consent as consents
from portal.models import Patient
from portal.rights.retention import retention_ends_on
from tests.browser.helpers import check_a11y, horizontal_overflow, sign_in
from tests.factories import PASSWORD
from tests.treatment.helpers import make_treatable

pytestmark = pytest.mark.browser

WIDTH = 390


def _fits(page: Page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, name


def test_withdraw_with_the_password_then_sign_again(open_page, live_server):
    base = live_server.url
    user = make_treatable(name="Wren Withdraw")
    page = open_page(viewport={"width": WIDTH, "height": 800}, device_scale_factor=2)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")

    page.goto(f"{base}/me/intake/consent")
    page.get_by_role("link", name="Withdraw my consent").click()
    expect(page.get_by_role("heading", level=1, name="Withdraw my consent")).to_be_visible()
    _fits(page, "withdraw-consent")
    page.get_by_label("Your reason (optional)").fill("I want to wait until spring.")
    page.get_by_role("button", name="Yes, withdraw my consent").click()
    expect(page.locator("#password-error")).to_contain_text("Enter your password.")
    expect(page.get_by_label("Your reason (optional)")).to_have_value(
        "I want to wait until spring.")
    _fits(page, "withdraw-consent-refused")
    patient = db.session.get(Patient, user.patient.id)
    assert consents.has_current_consent(patient)

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Yes, withdraw my consent").click()
    expect(page).to_have_url(f"{base}/me/")
    expect(page.get_by_text("You withdrew your consent to IMS")).to_be_visible()
    _fits(page, "withdrawn-home")
    db.session.expire_all()
    assert not consents.has_current_consent(db.session.get(Patient, user.patient.id))

    # Giving it again: from the home page to the consent, signed.
    page.get_by_role("link", name="Read the consent").click()
    expect(page.get_by_text("You withdrew your consent on")).to_be_visible()
    _fits(page, "consent-sign-again")
    page.get_by_label("Type your full name").fill(user.name)
    page.get_by_label("I have read this consent and I agree to IMS treatment.").check()
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.get_by_text("You withdrew your consent to IMS")).to_have_count(0)
    db.session.expire_all()
    assert consents.has_current_consent(db.session.get(Patient, user.patient.id))


def test_close_the_account_then_sign_in_is_refused(open_page, live_server):
    base = live_server.url
    user = make_treatable(name="Clara Closing")
    kept = retention_ends_on(db.session.get(Patient, user.patient.id))
    page = open_page(viewport={"width": WIDTH, "height": 800}, device_scale_factor=2)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")

    page.goto(f"{base}/me/record/close")
    expect(page.get_by_role("heading", level=1, name="Close my account")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"until {kept.strftime('%B')} {kept.day}")
    _fits(page, "close-account")
    page.get_by_role("button", name="Close my account").click()
    expect(page.locator("#understand-error")).to_contain_text("Tick this box")
    expect(page.locator("#close-password-error")).to_contain_text("Enter your password.")
    _fits(page, "close-account-refused")
    assert db.session.get(Patient, user.patient.id).account_closed_at is None

    page.get_by_label("I understand").check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Close my account").click()
    expect(page).to_have_url(f"{base}/me/record/closed")
    expect(page.get_by_role("heading", level=1, name="Your account is closed")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"{kept.strftime('%B')} {kept.day}, {kept.year}")
    _fits(page, "account-closed")

    # Signed out: the portal sends to sign-in, and signing in is refused: the right password
    # is told the account is closed and to contact the clinic.
    page.goto(f"{base}/me/")
    expect(page).to_have_url(f"{base}/auth/login?next=/me/")
    sign_in(page, base, user.email, PASSWORD)
    expect(page.get_by_text("This account was closed on")).to_be_visible()
    _fits(page, "sign-in-refused-after-closing")
