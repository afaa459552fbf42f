"""The retention schedule in Chromium on a phone (SPEC 11.2, 8.2): a second admin confirms a
disposal another admin approved, then disposes of a listed record with its count typed (a
wrong count first, named by its field). No axe violation on the way; the page fits 320 px
and its controls are big enough to touch."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.demo import retention as retention_demo
from portal.extensions import db
from portal.models import RecordDisposal
from tests.browser.helpers import (
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.factories import PASSWORD, make_admin, make_practitioner

pytestmark = pytest.mark.browser


def _statuses() -> dict[str, str]:
    db.session.expire_all()
    return {d.public_id: d.status for d in db.session.scalars(select(RecordDisposal))}


def test_approving_and_confirming_disposal_on_a_phone(open_page, live_server):
    base = live_server.url
    first = make_admin(name="Ada First")
    made = retention_demo.seed(first, make_practitioner())
    assert _statuses() == {made["listed"]: "listed", made["approved"]: "approved",
                           made["disposed"]: "disposed"}
    second = make_admin(name="Bo Second")

    page = open_page(viewport={"width": 320, "height": 740}, device_scale_factor=2)
    sign_in(page, base, second.email, PASSWORD)
    enter_code(page, totp_now(second.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/admin/")
    page.get_by_role("link", name="Retention schedule").click()
    expect(page.locator("h1")).to_have_text("Retention schedule")
    expect(page.locator("#approved")).to_contain_text("Ada First")
    check_a11y(page, "retention-320")
    assert horizontal_overflow(page) == 0
    assert small_touch_targets(page) == []

    # The second admin confirms the first one's approval (ticked for them already).
    approved = page.locator("#approved")
    expect(approved.get_by_role("checkbox")).to_be_checked()
    approved.get_by_role("button", name="Confirm the disposal of the ticked records").click()
    expect(page.locator(".flash--success")).to_contain_text("1 record was disposed of.")
    assert _statuses()[made["approved"]] == "disposed"

    # Then disposes of the listed one with the count typed: a wrong count is refused.
    listed = page.locator("#listed")
    expect(listed.get_by_role("checkbox")).to_be_checked()
    listed.get_by_label("Number of records to dispose of").fill("3")
    listed.get_by_role("button", name="Approve the disposal of the ticked records").click()
    expect(page.locator("#disposal-count-error")).to_contain_text("type 1 to dispose")
    expect(page.locator("#listed").get_by_role("checkbox")).to_be_checked()
    check_a11y(page, "retention-errors-320")
    assert horizontal_overflow(page) == 0
    assert _statuses()[made["listed"]] == "listed"
    page.locator("#listed").get_by_label("Number of records to dispose of").fill("1")
    page.locator("#listed").get_by_role(
        "button", name="Approve the disposal of the ticked records").click()
    expect(page.locator(".flash--success")).to_contain_text("1 record was disposed of.")
    expect(page.locator("#disposed")).to_contain_text("count typed")
    assert set(_statuses().values()) == {"disposed"}
    check_a11y(page, "retention-done-320")
