"""A practitioner's day in Chromium with the keyboard only (SPEC 5, 8.2): sign in with a
TOTP code, find a patient by typing three letters, open the chart, move through its tabs,
accept the clearance waiting on the documents tab and record a session on the sessions tab.
Nothing is clicked: focus moves by Tab (or is placed on a control, as a screen-reader user
jumps to it) and Enter or Space acts. axe-core on every page reached."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.documents import services as documents
from portal.extensions import db
from portal.models import Document, Patient, TreatmentSession
from tests.browser.helpers import check_a11y, sign_in, totp_now
from tests.factories import PASSWORD, make_document, make_practitioner
from tests.treatment.helpers import make_treatable

pytestmark = pytest.mark.browser


def _tab(page: Page, name: str):
    return page.get_by_role("navigation", name="Patient chart").get_by_role(
        "link", name=name, exact=True)


def _press(page: Page, locator, key: str = "Enter") -> None:
    locator.focus()
    expect(locator).to_be_focused()
    page.keyboard.press(key)


def test_practitioner_day_by_keyboard(open_page, live_server):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    margaret = make_treatable(name="Margaret Côté", cleared=False)
    make_document(margaret, name="clearance.pdf")
    make_treatable(name="Omar Haddad")  # someone the search must leave out
    patient_id = margaret.patient.public_id

    desk = open_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, base, doctor.email, PASSWORD)
    code = desk.get_by_label(re.compile("code", re.I)).first
    code.focus()
    desk.keyboard.type(totp_now(doctor.totp_secret_plain))
    desk.keyboard.press("Enter")
    expect(desk).to_have_url(f"{base}/clinic/")
    expect(desk.locator("#clearances-to-review")).to_contain_text("Margaret Côté")
    check_a11y(desk, "dashboard-worklist")

    # The patient list, and three letters typed in the search box (no accent typed).
    _press(desk, desk.get_by_role("link", name="Patients", exact=True))
    expect(desk).to_have_url(f"{base}/clinic/patients/")
    box = desk.get_by_label("Search", exact=True)
    box.focus()
    desk.keyboard.type("cot")
    expect(desk).to_have_url(re.compile(r"/clinic/patients/\?.*q=cot"))
    found = desk.get_by_role("link", name="Margaret Côté", exact=True)
    expect(found).to_be_visible()
    expect(desk.get_by_role("link", name="Omar Haddad")).to_have_count(0)
    expect(box).to_be_focused()  # the results changed under the box, not the box itself
    check_a11y(desk, "dashboard-search")

    # The chart, then its tabs by Tab and Enter.
    _press(desk, found)
    expect(desk).to_have_url(f"{base}/clinic/patients/{patient_id}/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Margaret Côté")
    expect(desk.locator(".chart-header")).to_contain_text("Not cleared for IMS")
    check_a11y(desk, "dashboard-chart-summary")
    _tab(desk, "Summary").focus()
    desk.keyboard.press("Tab")
    expect(_tab(desk, "Intake")).to_be_focused()
    desk.keyboard.press("Enter")
    expect(desk.locator("#chart-panel-title")).to_have_text("Intake")
    check_a11y(desk, "dashboard-chart-intake")

    # Documents: accept the clearance.
    _press(desk, _tab(desk, "Documents"))
    expect(desk.locator("#chart-panel-title")).to_have_text("Documents")
    check_a11y(desk, "dashboard-chart-documents")
    card = desk.locator(".doc", has_text="clearance.pdf")
    letter = card.get_by_label("Date of the physician's letter")
    letter.focus()
    # A date field takes its parts from the keyboard in the order the locale shows them:
    # the value is set directly, the rest of the review is done with the keyboard.
    letter.fill((documents.today() - timedelta(days=3)).isoformat())
    accept = card.get_by_role("button", name="Accept clearance.pdf", exact=True)
    _press(desk, accept)
    expect(desk.locator("#flash")).to_contain_text("clearance.pdf accepted.")
    expect(desk.locator("#patient-documents")).to_contain_text("Cleared for IMS")
    check_a11y(desk, "dashboard-clearance-accepted")

    # Sessions: record one. The regions are picked on the body map; by keyboard, from its
    # list (opened with Enter), each ticked with Space.
    _press(desk, _tab(desk, "Sessions"))
    expect(desk.locator("#chart-panel-title")).to_have_text("Sessions")
    _press(desk, desk.locator("summary", has_text="Choose the regions from a list"))
    _press(desk, desk.get_by_label("Low back, right side"), "Space")
    expect(desk.get_by_label("Low back, right side")).to_be_checked()
    _press(desk, desk.get_by_role("button", name="Record the session"))
    expect(desk.locator("#flash")).to_contain_text("The patient will be asked to rate it.")
    newest = desk.locator(".session-list .session").first
    expect(newest).to_contain_text("Low back, right side")
    check_a11y(desk, "dashboard-session-recorded")

    db.session.expire_all()
    patient = db.session.get(Patient, margaret.patient.id)
    assert db.session.query(Document).filter_by(patient_id=patient.id,
                                                status="accepted").count() == 1
    assert db.session.query(TreatmentSession).filter_by(patient_id=patient.id).count() == 1
