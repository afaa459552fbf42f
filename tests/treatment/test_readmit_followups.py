"""A session recorded for a discharged patient re-admits them as the chart's button does
(SPEC 12.1): the follow-ups of the discharge still pending are cancelled in the same commit,
so a patient back in treatment is not e-mailed "6 weeks after discharge", and a second
discharge schedules one set of follow-ups, not a second beside the first."""
from __future__ import annotations

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Patient
from portal.treatment import sessions
from tests.followups.helpers import discharge, follow_ups_of, send_and_deliver, treated
from tests.treatment.helpers import record
from tests.treatment.test_sessions import record_form, sessions_url


def _events(user, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.patient_id == user.patient.id, AuditEvent.action == action)))


def _pending(user) -> list[tuple[int, str]]:
    return sorted((f.weeks, f.status) for f in follow_ups_of(user)
                  if f.status in ("scheduled", "sent"))


def test_a_session_after_discharge_cancels_the_pending_follow_ups(app, doctor):
    user = treated()
    discharge(user, actor=doctor)
    assert _pending(user) == [(6, "scheduled"), (12, "scheduled")]
    clock.advance(days=10)
    record(user, doctor, hours_ago=1)
    patient = db.session.get(Patient, user.patient.id)
    assert patient.status == "in_treatment" and patient.discharged_at is None
    assert [(f.weeks, f.status) for f in follow_ups_of(user)] == \
        [(6, "cancelled"), (12, "cancelled")]
    readmitted, = _events(user, "patient.readmitted")
    assert '"in_treatment"' in readmitted.detail
    cancelled, = _events(user, "follow_up.cancelled")
    assert '"readmitted"' in cancelled.detail
    # Nothing goes out for them when their time comes.
    clock.advance(weeks=7)
    assert send_and_deliver().sent == 0
    # A second discharge: one set pending, its own.
    discharge(user, actor=doctor)
    assert _pending(user) == [(6, "scheduled"), (12, "scheduled")]
    assert len(follow_ups_of(user)) == 4


def test_through_the_record_form_too(app, doctor, doctor_client):
    user = treated()
    discharge(user, actor=doctor)
    clock.advance(days=3)
    response = doctor_client.post(sessions_url(user), data=record_form(doctor_client, user))
    assert response.status_code == 303
    assert _pending(user) == []
    discharge(user, actor=doctor)
    assert _pending(user) == [(6, "scheduled"), (12, "scheduled")]


def test_re_admission_happens_once(app, doctor):
    """The one re-admission both ways use: a patient not discharged (any more) is left
    alone, with no second audit event and nothing cancelled."""
    user = treated()
    discharge(user, actor=doctor)
    patient = db.session.get(Patient, user.patient.id)
    assert sessions.readmit(patient, doctor, "in_treatment")
    db.session.commit()
    assert not sessions.readmit(patient, doctor, "in_treatment")
    db.session.commit()
    assert len(_events(user, "patient.readmitted")) == 1
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "follow_up.cancelled")) == 1
