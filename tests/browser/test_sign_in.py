"""Sign-in mistakes and the password reset (SPEC 1.3, 2.5, 8.2)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_a11y, mailed_link, sign_in
from tests.factories import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def test_wrong_password_shows_the_error_by_the_form(page, live_server):
    patient = make_patient()
    base = live_server.url
    sign_in(page, base, patient.email, "not my password at all", name="login")

    form = page.locator("#login-form")
    summary = form.locator(".error-summary")
    expect(summary).to_contain_text("do not match an account")
    expect(summary).to_be_focused()  # screen readers hear it, keyboard users start there
    expect(form.get_by_label("E-mail address")).to_have_value(patient.email)
    expect(page).to_have_url(f"{base}/auth/login")
    check_a11y(page, "login-wrong-password")

    # The corrected form still works after the swap.
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/me/")


def test_password_reset_by_e_mail(page, live_server):
    patient = make_patient()
    base, smtp = live_server.url, live_server.smtp
    new_password = "seven geese over the fraser"

    page.goto(f"{base}/auth/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{base}/auth/reset")
    check_a11y(page, "reset-request")

    page.get_by_label("E-mail address").fill(patient.email)
    sent = len(smtp.messages)
    page.get_by_role("button", name="Send me a link", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    check_a11y(page, "reset-check-email")

    page.goto(mailed_link(smtp, "/auth/reset/", sent))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    check_a11y(page, "reset-new-password")
    page.get_by_label("New password").fill(new_password)
    page.get_by_label("Type the password again").fill(new_password)
    page.get_by_role("button", name="Save my new password", exact=True).click()

    # No automatic sign-in after a reset: back to the sign-in page, told what happened.
    expect(page).to_have_url(f"{base}/auth/login")
    expect(page.locator("#flash")).to_contain_text("Your password has been changed")
    check_a11y(page, "reset-done")

    sign_in(page, base, patient.email, PASSWORD)
    expect(page.locator("#login-form .error-summary")).to_be_visible()
    sign_in(page, base, patient.email, new_password)
    expect(page).to_have_url(re.compile(r"/me/$"))


def test_a_proxy_error_never_replaces_the_form(open_page, live_server, translate):
    """A 502 from a proxy in front of the portal (no HX-Retarget: not the portal's own error
    page) once replaced the form it answered with the proxy's page, and what was typed went
    with it. The form stays as typed, the flash region says the portal could not be reached
    (in the page's language), and the next try goes through."""
    patient = make_patient()
    base = live_server.url
    t = translate("fr_CA")
    page = open_page(viewport={"width": 390, "height": 844}, locale="fr-CA")
    down = True

    def proxy(route):
        if down:
            route.fulfill(status=502, content_type="text/html",
                          body="<html><body><h1>502 Bad Gateway</h1></body></html>")
        else:
            route.continue_()

    page.route("**/auth/login", lambda route: proxy(route) if route.request.method == "POST"
               else route.continue_())
    sign_in(page, base, patient.email, PASSWORD, t=t)
    flash = page.locator("#flash")
    expect(flash).to_contain_text(t("The portal could not be reached, so this was not saved. "
                                    "What you typed is still on the page: please try again "
                                    "in a moment."))
    expect(page.locator("body")).not_to_contain_text("Bad Gateway")
    form = page.locator("#login-form")
    expect(form.get_by_label(t("E-mail address"))).to_have_value(patient.email)
    expect(form.get_by_label(t("Password"))).to_have_value(PASSWORD)

    down = False
    form.get_by_role("button", name=t("Sign in"), exact=True).click()
    expect(page).to_have_url(f"{base}/me/")
