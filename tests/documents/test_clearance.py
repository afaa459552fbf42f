"""The one clearance rule (SPEC 3.3), ``is_cleared(patient, on)``, and what it drives: the
patient's to-do list and the status the patient and staff see."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import pytz

from portal import clock
from portal.clinic_settings import current_settings
from portal.documents import services
from portal.extensions import db
from tests.factories import make_document, make_patient


def todo_keys(patient) -> list[str]:
    from portal.patient.services import todos
    db.session.expire_all()
    return [t.key for t in todos(patient.patient)]


def test_no_clearance_no_clearance_for_ims(app, patient):
    assert not services.is_cleared(patient.patient)
    assert services.clearance_state(patient.patient).state == "missing"


def test_pending_and_rejected_clearances_do_not_clear(app, patient):
    make_document(patient)
    assert not services.is_cleared(patient.patient)
    make_document(patient, status="rejected")
    assert not services.is_cleared(patient.patient)


def test_other_kinds_never_clear(app, patient):
    for kind in ("imaging", "referral", "other"):
        make_document(patient, kind=kind, status="accepted")
    assert not services.is_cleared(patient.patient)


def test_an_accepted_clearance_without_an_end_date_clears(app, patient):
    make_document(patient, status="accepted")
    assert services.is_cleared(patient.patient)
    assert services.is_cleared(patient.patient, on=date(2099, 1, 1))


def test_valid_until_is_the_last_cleared_day(app, patient):
    until = services.today() + timedelta(days=30)
    make_document(patient, status="accepted", valid_until=until)
    assert services.is_cleared(patient.patient, on=until - timedelta(days=30))
    assert services.is_cleared(patient.patient, on=until)
    assert not services.is_cleared(patient.patient, on=until + timedelta(days=1))
    assert services.clearance_state(patient.patient, on=until + timedelta(days=1)).state == \
        "expired"


def test_the_longest_valid_clearance_counts(app, patient):
    short = services.today() + timedelta(days=5)
    make_document(patient, status="accepted", valid_until=short)
    make_document(patient, status="accepted")  # no end date
    assert services.current_clearance(patient.patient).valid_until is None
    assert services.is_cleared(patient.patient, on=short + timedelta(days=100))


def test_other_patients_clearances_do_not_count(app, patient):
    make_document(make_patient(), status="accepted")
    assert not services.is_cleared(patient.patient)


def test_today_is_the_clinics_day(app, patient):
    """At 23:30 in Vancouver it is already tomorrow in UTC: a clearance valid until today
    (Vancouver) still holds."""
    settings = current_settings()
    settings.timezone = "America/Vancouver"
    db.session.commit()
    # 2027-03-10 23:30 in Vancouver is 2027-03-11 in UTC (06:30 by the rules from November
    # 2026, UTC-7; 07:30 by the older ones): the offset comes from the rules the pages use.
    target = pytz.timezone("America/Vancouver").localize(
        datetime(2027, 3, 10, 23, 30)).astimezone(UTC)
    assert target.date() == date(2027, 3, 11)
    clock.advance(seconds=(target - clock.now()).total_seconds())
    assert services.today() == date(2027, 3, 10)
    doc = make_document(patient)
    doc.status, doc.valid_until, doc.reviewed_at = "accepted", date(2027, 3, 10), clock.now()
    doc.letter_date = date(2027, 3, 1)
    db.session.commit()
    assert services.is_cleared(patient.patient)
    clock.advance(hours=1)  # 00:30 in Vancouver
    assert not services.is_cleared(patient.patient)


def test_clearance_state_follows_the_story(app, patient):
    state = lambda: services.clearance_state(patient.patient).state  # noqa: E731
    assert state() == "missing"
    make_document(patient, status="rejected")
    assert state() == "rejected"
    pending = make_document(patient)
    assert state() == "pending"
    pending.status, pending.reviewed_at = "accepted", clock.now()
    pending.valid_until = services.today() + timedelta(days=1)
    pending.letter_date = services.today()
    db.session.commit()
    assert state() == "cleared"
    clock.advance(days=3)
    assert state() == "expired"


@pytest.mark.parametrize("setup,key", [
    (lambda p: None, "clearance_missing"),
    (lambda p: make_document(p), "clearance_pending"),
    (lambda p: make_document(p, status="checking"), "clearance_checking"),
    (lambda p: make_document(p, status="refused"), "clearance_missing"),
    (lambda p: make_document(p, status="rejected"), "clearance_rejected"),
    (lambda p: make_document(p, status="accepted"), None),
])
def test_the_to_do_list(app, patient, setup, key):
    setup(patient)
    keys = todo_keys(patient)
    clearance = [k for k in keys if k.startswith("clearance_")]
    assert clearance == ([key] if key else [])
    if key:  # before the optional account items
        assert keys.index(key) < keys.index("mfa")


def test_home_page_to_do(patient_client, patient):
    html = patient_client.get("/me/").get_data(as_text=True)
    assert "Upload your physician's clearance" in html and 'href="/me/documents/"' in html
    make_document(patient, status="accepted")
    html = patient_client.get("/me/").get_data(as_text=True)
    assert "clearance" not in html.lower()


def test_documents_page_says_cleared(patient_client, patient):
    until = services.today() + timedelta(days=90)
    make_document(patient, status="accepted", valid_until=until)
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert "You are cleared for IMS" in html and "It is valid until" in html


def test_nav_links_to_my_documents(patient_client):
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert '<a href="/me/documents/" aria-current="page">My documents</a>' in html
