"""Follow-ups after discharge in Chromium on a phone 320 px wide (SPEC 12.1, 8.2): the
worker e-mails the 6-week follow-up; the patient opens the link without signing in, sends
the form once empty (errors by the groups), answers, and sees the thank-you page; another
patient opens the "I don't want follow-ups" link and declines with one tap. axe-core on each
page, nothing scrolls sideways, touch targets of 44 px."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal import clock, tasks
from portal.extensions import db
from portal.models import FollowUp
from tests.browser.helpers import (
    body_font_px,
    check_a11y,
    horizontal_overflow,
    mailed_link,
    small_touch_targets,
)
from tests.followups.helpers import discharge, treated

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 320, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def check_phone(page: Page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"
    assert body_font_px(page) >= 16
    assert small_touch_targets(page) == [], f"{name}: touch targets under 44 px"


def group(page: Page, legend: str):
    return page.get_by_role("group", name=re.compile("^" + re.escape(legend)))


def _rows(user) -> list[FollowUp]:
    db.session.expire_all()
    return list(db.session.scalars(select(FollowUp)
                                   .where(FollowUp.patient_id == user.patient.id)
                                   .order_by(FollowUp.weeks)))


def test_answer_the_emailed_follow_up_then_decline_another(open_page, live_server):
    answering = treated(name="Margaret Côté")
    declining = treated(name="Luc Gagnon")
    discharge(answering)
    discharge(declining)
    clock.advance(weeks=6, minutes=1)
    before = len(live_server.smtp.messages)
    tasks.follow_ups()  # a tick of the periodic task, run by the live server's worker
    mailed_link(live_server.smtp, "/follow-up/", before + 1, timeout=20)  # both e-mails
    links = {}
    for message in live_server.smtp.parsed()[before:]:
        body = message.get_body(preferencelist=("plain",)).get_content()
        urls = [u for u in re.findall(r"https?://\S+", body) if "/follow-up/" in u]
        links[message["To"]] = urls

    phone = open_page(**PHONE)
    answer_link = links[answering.email][0]
    phone.goto(answer_link)
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        "How are you since your treatment?")
    check_phone(phone, "follow-up-phone-form")
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.locator(".error-summary")).to_be_focused()
    expect(phone.locator("#pgic-error")).to_be_visible()
    check_phone(phone, "follow-up-phone-errors")
    group(phone, "Over the past 24 hours, what was your pain on average?").get_by_label(
        "3", exact=True).tap()
    group(phone, "Since you started treatment").get_by_label("Much better", exact=True).tap()
    group(phone, "Lifting groceries").get_by_label("8", exact=True).tap()
    group(phone, "Gardening").get_by_label("7", exact=True).tap()
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.locator("#flash")).to_contain_text("Thank you. Your answers are saved")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Your answers are saved")
    check_phone(phone, "follow-up-phone-thanks")
    six = _rows(answering)[0]
    assert (six.status, six.pain_average, six.pgic, six.kept) == ("answered", 3, 2, True)

    # The other patient: the e-mail's "I don't want follow-up questions" link, one tap.
    other = open_page(**PHONE)
    other.goto(links[declining.email][1])
    check_phone(other, "follow-up-phone-decline")
    other.get_by_role("button", name="Stop follow-up questions").tap()
    expect(other.locator("main .notice--ok")).to_contain_text(
        "We will not send you follow-up questions any more.")
    check_phone(other, "follow-up-phone-declined")
    assert [f.status for f in _rows(declining)] == ["declined", "declined"]
