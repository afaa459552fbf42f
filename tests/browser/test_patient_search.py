"""The patient list in Chromium (SPEC 5.2, 8.2, 8.3): a practitioner opens it from the
menu, searches as they type (htmx swaps the results after a pause, the address follows, the
focus stays in the search box), goes back to the full list with the back button; no axe
violation, touch targets of 44 px."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import check_a11y, enter_code, sign_in, small_touch_targets, totp_now
from tests.factories import PASSWORD, make_patient, make_practitioner

pytestmark = pytest.mark.browser


def test_practitioner_searches_as_they_type(live_server, page: Page, translate):
    t = translate("en")
    staff = make_practitioner(name="Paula Practitioner")
    make_patient(name="Geneviève Côté")
    make_patient(name="Marc Roy")
    base = live_server.url

    sign_in(page, base, staff.email, PASSWORD, t)
    enter_code(page, totp_now(staff.totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.get_by_role("link", name=t("Patients"), exact=True).click()
    expect(page).to_have_url(f"{base}/clinic/patients/")
    rows = page.locator("#patient-results tbody tr")
    expect(rows).to_have_count(2)
    check_a11y(page, "patient-list")
    assert small_touch_targets(page) == []

    box = page.get_by_label(t("Search"), exact=True)
    box.press_sequentially("cote", delay=50)
    expect(page).to_have_url(re.compile(r"/clinic/patients/\?.*q=cote"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Geneviève Côté")
    expect(box).to_be_focused()
    check_a11y(page, "patient-list-search")

    page.go_back()
    expect(page).to_have_url(f"{base}/clinic/patients/")
    expect(rows).to_have_count(2)


def test_phone_search_and_pain_change_order(live_server, page: Page, translate, db):
    from datetime import date

    from portal import clock
    from portal.models import TreatmentOutcome

    t = translate("en")
    staff = make_practitioner(name="Paula Practitioner")
    better = make_patient(name="Béatrice Better")
    worse = make_patient(name="Walter Worse")
    better.patient.phone, better.patient.date_of_birth = "6045550123", date(1975, 3, 21)
    for user, latest in ((better, 2), (worse, 8)):
        db.session.add(TreatmentOutcome(patient_id=user.patient.id, baseline=6,
                                        latest_nprs=latest, rated_count=1, status="unknown",
                                        updated_at=clock.now()))
    db.session.commit()
    base = live_server.url
    sign_in(page, base, staff.email, PASSWORD, t)
    enter_code(page, totp_now(staff.totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/clinic/patients/")
    rows = page.locator("#patient-results tbody tr")

    page.get_by_label(t("Sort by"), exact=True).select_option("worsened")
    expect(page).to_have_url(re.compile(r"sort=worsened"))
    expect(rows.first).to_contain_text("Walter Worse")
    expect(rows.first).to_contain_text("2 points more")
    check_a11y(page, "patient-list-worsened")

    box = page.get_by_label(t("Search"), exact=True)
    box.press_sequentially("604 555 0123", delay=30)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("604-555-0123")
    expect(rows.first).to_contain_text("1975-03-21")
    check_a11y(page, "patient-list-phone")
    assert small_touch_targets(page) == []


def test_the_count_is_announced_from_a_stable_live_region(live_server, page: Page, translate):
    """The status line stays the same element while htmx swaps the results (a live region
    swapped in with them is not announced reliably); only its text changes."""
    en, t = translate("en"), translate("fr_CA")
    staff = make_practitioner(name="Paula Practitioner", locale="fr_CA")
    make_patient(name="Geneviève Côté")
    make_patient(name="Marc Roy")
    base = live_server.url
    sign_in(page, base, staff.email, PASSWORD, en)  # the browser's language until signed in
    enter_code(page, totp_now(staff.totp_secret_plain), en)
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/clinic/patients/")
    status = page.locator("#patient-results-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("2 patients trouvés.")
    assert page.locator("#patient-results #patient-results-status").count() == 0
    status.evaluate("node => { node.dataset.sameNode = 'yes' }")

    page.get_by_label(t("Search"), exact=True).press_sequentially("cote", delay=50)
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    expect(status).to_have_text("1 patient trouvé.")
    expect(status).to_have_attribute("data-same-node", "yes")
    expect(page.locator("#patient-results-status")).to_have_count(1)
    page.get_by_label(t("Search"), exact=True).press_sequentially("zzz", delay=50)
    expect(status).to_have_text("Aucun patient trouvé.")
    expect(status).to_have_attribute("data-same-node", "yes")
    check_a11y(page, "patient-list-count")
