"""The audit log in Chromium (SPEC 7.1, 8.2, 8.3): an admin opens it from the
administration page, searches it (htmx swaps the results, the address follows, focus moves
to the results), pages through it and verifies the chain; no axe violation, no CSP
violation, touch targets of 44 px."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal import audit
from portal.extensions import db
from tests.browser.helpers import check_a11y, enter_code, sign_in, small_touch_targets, totp_now
from tests.factories import PASSWORD, make_admin, make_patient

pytestmark = pytest.mark.browser


def test_admin_searches_pages_and_verifies_the_log(live_server, page: Page, translate):
    t = translate("en")
    admin = make_admin(name="Ada Admin")
    patient = make_patient(name="Rosa Patient")
    for _ in range(55):
        audit.write("record.viewed", patient=patient.patient, actor=admin)
    db.session.commit()
    base = live_server.url

    sign_in(page, base, admin.email, PASSWORD, t)
    enter_code(page, totp_now(admin.totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/admin/")
    page.get_by_role("link", name=t("Audit log: search, export and verify")).click()
    expect(page).to_have_url(f"{base}/admin/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Audit log"))
    check_a11y(page, "audit-log")
    assert small_touch_targets(page) == []

    page.get_by_label(t("Action")).select_option("record.viewed")
    page.get_by_role("button", name=t("Search"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?.*action=record\.viewed"))
    results = page.locator("#audit-results")
    expect(results).to_be_focused()
    expect(results.locator("tbody tr")).to_have_count(50)
    check_a11y(page, "audit-log-search")

    page.get_by_role("link", name=t("Older events")).click()
    expect(page).to_have_url(re.compile(r"before=\d+"))
    expect(results.locator("tbody tr")).to_have_count(5)
    check_a11y(page, "audit-log-older")
    assert small_touch_targets(page) == []

    page.get_by_role("button", name=t("Verify the chain"), exact=True).click()
    expect(page.locator("#flash")).to_contain_text(re.compile(r"\d+"))
    expect(page.locator(".flash--success")).to_be_visible()
    check_a11y(page, "audit-log-verified")
