"""Discharge schedules the follow-ups (SPEC 12.1): one per delay the clinic set (6 and 12
weeks by default), with the baseline and the responder status at discharge; none for "moved
away" or "deceased", for a patient who declined or closed their account; re-admission
cancels the ones not answered."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.clinic.chart import services as chart
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import AuditEvent, ClinicSettings, Patient
from tests.factories import make_practitioner
from tests.followups.helpers import discharge, follow_ups_of, send_and_deliver, treated


def test_discharge_schedules_at_6_and_12_weeks(app):
    user = treated()
    patient = discharge(user)
    db.session.refresh(patient)
    made = follow_ups_of(user)
    assert [f.weeks for f in made] == [6, 12]
    for f in made:
        assert f.status == "scheduled"
        assert f.discharged_at == patient.discharged_at
        assert f.due_at == patient.discharged_at + timedelta(weeks=f.weeks)
        # Baseline 6 (intake), last rating 3: a responder at discharge.
        assert f.baseline == 6 and f.improved_at_discharge is True
        assert f.token_hash is None and f.sent_at is None
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "follow_up.scheduled"))
    assert event is not None and event.patient_id == patient.id


def test_not_a_responder_at_discharge_is_kept_as_such(app):
    user = treated(pains=(6, 6, 5))
    discharge(user)
    assert {f.improved_at_discharge for f in follow_ups_of(user)} == {False}


def _settings(first, second):
    settings = db.session.get(ClinicSettings, 1) or current_settings()
    settings.follow_up_first_weeks = first
    settings.follow_up_second_weeks = second
    db.session.commit()


@pytest.mark.parametrize(("first", "second", "weeks"), [
    (4, None, [4]), (None, 26, [26]), (8, 16, [8, 16]), (None, None, [])])
def test_the_delays_are_the_clinics_settings(app, first, second, weeks):
    _settings(first, second)
    user = treated()
    discharge(user)
    assert [f.weeks for f in follow_ups_of(user)] == weeks


@pytest.mark.parametrize("reason", ["moved_away", "deceased"])
def test_none_for_moved_away_or_deceased(app, reason):
    user = treated()
    discharge(user, reason)
    assert follow_ups_of(user) == []
    assert db.session.scalar(select(AuditEvent)
                             .where(AuditEvent.action == "follow_up.scheduled")) is None


def test_none_when_the_patient_declined(app):
    user = treated()
    user.patient.follow_ups_declined_at = clock.now()
    db.session.commit()
    discharge(user)
    assert follow_ups_of(user) == []


def test_none_when_the_account_is_closed(app):
    user = treated()
    user.patient.account_closed_at = clock.now()
    db.session.commit()
    discharge(user)
    assert follow_ups_of(user) == []


def test_readmission_cancels_what_is_not_answered(app, smtp_server, mail_app):
    user = treated()
    doctor = make_practitioner()
    discharge(user, actor=doctor)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1  # the 6-week one is sent, the 12-week one waits
    patient = db.session.get(Patient, user.patient.id)
    chart.readmit(patient, doctor)
    made = follow_ups_of(user)
    assert [(f.weeks, f.status) for f in made] == [(6, "cancelled"), (12, "cancelled")]
    assert all(f.cancelled_at is not None for f in made)
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "follow_up.cancelled"))
    assert event is not None and '"count": 2' in event.detail
    # Nothing goes out for them afterwards.
    clock.advance(weeks=7)
    report = send_and_deliver()
    assert (report.sent, report.reminded) == (0, 0)


def test_a_second_discharge_schedules_its_own(app):
    user = treated()
    doctor = make_practitioner()
    discharge(user, actor=doctor)
    chart.readmit(db.session.get(Patient, user.patient.id), doctor)
    clock.advance(days=30)
    discharge(user, actor=doctor)
    statuses = sorted((f.weeks, f.status) for f in follow_ups_of(user))
    assert statuses == [(6, "cancelled"), (6, "scheduled"), (12, "cancelled"),
                        (12, "scheduled")]


def test_the_discharge_form_offers_moved_away_and_deceased(app, client, auth):
    user = treated()
    doctor = make_practitioner()
    auth.login(doctor)
    page = client.get(f"/clinic/patients/{user.patient.public_id}/",
                      follow_redirects=True).get_data(as_text=True)
    assert 'value="moved_away"' in page and 'value="deceased"' in page
    response = client.post(f"/clinic/patients/{user.patient.public_id}/discharge",
                           data={"discharge-reason": "moved_away"})
    assert response.status_code in (200, 303)
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).discharge_reason == "moved_away"
    assert follow_ups_of(user) == []
