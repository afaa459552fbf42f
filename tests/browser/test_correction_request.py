"""A correction request in Chromium on a phone 320 px wide (SPEC 11.1): the patient opens
"My record", asks for a correction of one answer with their password (a wrong one first),
sees it waiting with its due date, and, once the practitioner has corrected the record, gets
an e-mail whose link shows the new answer. No axe violation, nothing wider than the screen,
every control big enough to touch."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.intake.types import StepInput
from portal.models import RecordRequest
from portal.rights import correcting
from tests.browser.helpers import (
    check_a11y,
    horizontal_overflow,
    mailed_link,
    sign_in,
    small_touch_targets,
)
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.intake.helpers import make_intake

pytestmark = pytest.mark.browser


def test_the_patient_asks_for_a_correction_and_reads_the_answer(open_page, live_server):
    base = live_server.url
    user = make_patient(name="Nora Quinn")
    make_intake(user)
    doctor = make_practitioner()

    page = open_page(viewport={"width": 320, "height": 720}, device_scale_factor=2)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/me/"))
    page.goto(f"{base}/me/record")
    page.get_by_role("link", name="Ask for a correction").click()
    expect(page.get_by_role("heading", level=1, name="Ask for a correction")).to_be_visible()
    check_a11y(page, "correction-request-320")
    assert horizontal_overflow(page) == 0
    assert small_touch_targets(page) == []

    page.get_by_label("What is wrong?").select_option(label="Phone number")
    page.get_by_label("What should it say instead?").fill("My phone is 604-555-0999.")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.get_by_label("What should it say instead?")).to_have_value(
        "My phone is 604-555-0999.")
    check_a11y(page, "correction-request-refused-320")

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Send the request").click()
    requests = page.locator("#my-corrections")
    expect(requests).to_contain_text("Waiting for an answer")
    expect(requests).to_contain_text("Answer due by")
    check_a11y(page, "correction-request-sent-320")
    assert horizontal_overflow(page) == 0

    # The practitioner corrects the answer (the chart's form is covered by
    # tests/rights/test_corrections.py).
    db.session.expire_all()
    req = db.session.scalars(select(RecordRequest)).one()
    sent = len(live_server.smtp.messages)
    correcting.accept(req, doctor, "Thank you, your number is updated.",
                      (1, StepInput(values={"phone": "604-555-0999"})))
    link = mailed_link(live_server.smtp, "/me/record", after=sent)
    page.goto(link)
    requests = page.locator("#my-corrections")
    expect(requests).to_contain_text("Corrected")
    expect(requests).to_contain_text("Your answer now reads: 604-555-0999")
    expect(requests).to_contain_text("Thank you, your number is updated.")
    check_a11y(page, "correction-answered-320")
    assert horizontal_overflow(page) == 0
