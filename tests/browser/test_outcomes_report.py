"""Outcomes after discharge and the report to share in Chromium at phone width (SPEC 12.1,
8.2): the outcomes page's "improvement kept" table, the link to the report of the same
period, the report itself with no axe violation and no horizontal scroll at 320 px, and the
report as printed: the portal around it gone, on one A4 page and one Letter page."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from tests.browser.helpers import (
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.clinic.test_outcomes import COURSES, course
from tests.factories import PASSWORD, make_follow_up, make_practitioner

pytestmark = pytest.mark.browser


def pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF Chromium wrote (each ``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_kept_figures_and_the_report_on_a_phone(live_server, page: Page, translate, artifacts):
    t = translate("en")
    doctors = {"A": make_practitioner(name="Dr. Avery Adams"),
               "B": make_practitioner(name="Dr. Blake Bailey")}
    patients = {name: course(db, doctors[who], baseline, sessions, name)
                for name, (who, baseline, sessions) in COURSES.items()}
    discharged = datetime(2025, 6, 1, 18, tzinfo=UTC)
    make_follow_up(patients["P1"], weeks=6, baseline=6, pain_average=3,
                   discharged_at=discharged, answered_at=datetime(2025, 7, 13, 18, tzinfo=UTC))
    make_follow_up(patients["P2"], weeks=6, baseline=8, pain_average=7,
                   discharged_at=discharged, answered_at=datetime(2025, 7, 14, 18, tzinfo=UTC))
    make_follow_up(patients["P1"], weeks=12, baseline=6, pain_average=4,
                   discharged_at=discharged, answered_at=datetime(2025, 8, 24, 18, tzinfo=UTC))
    base = live_server.url
    page.set_viewport_size({"width": 320, "height": 700})

    sign_in(page, base, doctors["A"].email, PASSWORD, t)
    enter_code(page, totp_now(doctors["A"].totp_secret_plain), t)
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/clinic/outcomes?date_from=2025-03-01&date_to=2025-08-31")
    kept = page.locator("#kept-6w")
    expect(kept).to_contain_text("1 of 2 (50%)")
    expect(page.locator("#kept-12w")).to_contain_text("1 of 1 (100%)")
    check_a11y(page, "outcomes-kept-phone")
    assert horizontal_overflow(page) == 0
    assert small_touch_targets(page) == []

    page.locator("#outcomes-report-link").click()
    expect(page).to_have_url(f"{base}/clinic/outcomes/report?from=2025-03-01&to=2025-08-31")
    expect(page.locator("#report-responder-rate")).to_have_text("33%")
    expect(page.locator("#kept-6w")).to_contain_text("1 of 2 (50%)")
    expect(page.get_by_role("button", name=t("Print or save as PDF"))).to_be_visible()
    check_a11y(page, "outcomes-report-phone")
    assert horizontal_overflow(page) == 0
    assert small_touch_targets(page) == []
    for name in ("P1", "P2", "Dr. Avery Adams"):
        expect(page.locator("article")).not_to_contain_text(name)

    # As printed: the portal, the form and the buttons gone; one page on A4 and on Letter.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".outcomes-report__period")).to_be_hidden()
    expect(page.locator("#report-definitions-title")).to_be_visible()
    page.screenshot(path=str(artifacts / "outcomes-report-print.png"), full_page=True)
    for paper in ("A4", "Letter"):
        assert pdf_pages(page.pdf(format=paper, print_background=True)) == 1, paper
    page.emulate_media(media="screen")
