"""Clinic outcomes and the printable summary in Chromium (SPEC 5.4, 5.5, 8.2, 8.3): a
practitioner opens the outcomes from the menu, filters by practitioner (htmx swaps the
results, the address follows, focus goes to the results), and opens a patient's printable
summary, whose print button the script reveals; no axe violation on any of them."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from tests.browser.helpers import check_a11y, enter_code, sign_in, small_touch_targets, totp_now
from tests.clinic.test_outcomes import COURSES, course
from tests.factories import PASSWORD, make_practitioner
from tests.treatment.helpers import history, make_treatable

pytestmark = pytest.mark.browser


def test_practitioner_filters_the_outcomes(live_server, page: Page, translate, artifacts):
    t = translate("en")
    doctors = {"A": make_practitioner(name="Dr. Avery Adams"),
               "B": make_practitioner(name="Dr. Blake Bailey")}
    for name, (who, baseline, sessions) in COURSES.items():
        course(db, doctors[who], baseline, sessions, name)
    base = live_server.url

    sign_in(page, base, doctors["A"].email, PASSWORD, t)
    enter_code(page, totp_now(doctors["A"].totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.get_by_role("link", name=t("Outcomes"), exact=True).click()
    expect(page).to_have_url(f"{base}/clinic/outcomes")
    expect(page.locator("#outcome-status-improved td").first).to_have_text("2")
    expect(page.locator("#outcomes-change-table tbody tr")).to_have_count(4)
    check_a11y(page, "outcomes")
    assert small_touch_targets(page) == []

    page.get_by_label(t("Practitioner"), exact=True).select_option(label="Dr. Blake Bailey")
    page.get_by_role("button", name=t("Show outcomes")).click()
    expect(page).to_have_url(re.compile(rf"/clinic/outcomes\?.*practitioner={doctors['B'].public_id}"))
    expect(page.locator("#outcome-status-improved td").first).to_have_text("0")
    expect(page.locator("#outcome-status-worse td").first).to_have_text("1")
    expect(page.locator("#outcome-results")).to_be_focused()
    check_a11y(page, "outcomes-filtered")

    # The period, typed in the date fields, also arrives by htmx.
    page.get_by_label(t("Sessions from"), exact=True).fill("2025-05-10")
    page.get_by_label(t("Sessions to"), exact=True).fill("2025-05-01")
    page.get_by_role("button", name=t("Show outcomes")).click()
    expect(page.locator("#date_to-error")).to_be_visible()
    expect(page.locator(".error-summary")).to_be_focused()
    check_a11y(page, "outcomes-bad-period")


def test_printable_summary(live_server, page: Page, translate, artifacts):
    t = translate("en")
    doctor = make_practitioner(name="Dr. Jordan Lee")
    user = make_treatable(name="Margaret Côté", baseline=6)
    history(user, [5, 4, 3], practitioner=doctor)
    base = live_server.url

    sign_in(page, base, doctor.email, PASSWORD, t)
    enter_code(page, totp_now(doctor.totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/clinic/patients/{user.patient.public_id}/summary")
    expect(page.locator("#summary-title")).to_have_text("Margaret Côté")
    expect(page.get_by_role("button", name=t("Print or save as PDF"))).to_be_visible()
    check_a11y(page, "patient-summary")
    assert small_touch_targets(page) == []

    # As printed: the portal around the record is gone.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("button", name=t("Print or save as PDF"))).to_be_hidden()
    expect(page.locator(".print-summary__sessions")).to_be_visible()
    page.screenshot(path=str(artifacts / "patient-summary-print.png"), full_page=True)
    page.emulate_media(media="screen")
