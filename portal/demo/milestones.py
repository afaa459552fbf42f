"""Steps of a named demo patient's course that come from the practitioner, dated where
they belong in the course (issue 14): the consent discussion just before the first
needling, and safety checks answered yes after a session: one waiting on the worklist, one
handled with a note."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.intake import consent as consents
from portal.models import ConsentDiscussion, Patient, SafetyReport, TreatmentSession, User


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def first_session(patient: Patient) -> datetime:
    first = db.session.scalar(select(func.min(TreatmentSession.treated_at))
                              .where(TreatmentSession.patient_id == patient.id))
    assert first is not None  # called once the course is recorded
    return _aware(first)


def discuss(patient: Patient, practitioner: User, first: datetime) -> ConsentDiscussion:
    """The practitioner's consent discussion (SPEC 4.1; CLINICAL.md, "Informed consent is
    a conversation, not a form"): at the first visit, before the first needling, for the
    patient's signature of the current consent (signed with the intake, months before)."""
    signature = consents.signature(patient, consents.current_consent())
    assert signature is not None  # the intake demo signs the current consent
    at = first - timedelta(minutes=20)
    row = ConsentDiscussion(
        patient_id=patient.id, signature_id=signature.id, discussed_at=at,
        discussed_by_id=practitioner.id, created_at=at,
        note="Risks (bruising, soreness, rare pneumothorax), benefits and other options "
             "explained; questions answered; agrees to IMS.")
    db.session.add(row)
    db.session.commit()
    return row


def _session(patient: Patient, offset: int) -> TreatmentSession:
    """The patient's session ``offset`` from the first (negative: from the last)."""
    ordered = select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
    if offset < 0:
        ordered, offset = ordered.order_by(TreatmentSession.treated_at.desc()), -offset - 1
    else:
        ordered = ordered.order_by(TreatmentSession.treated_at)
    session = db.session.scalars(ordered.offset(offset).limit(1)).first()
    assert session is not None  # every demo course has 3 sessions or more
    return session


def waiting_safety(patient: Patient) -> SafetyReport:
    """The safety check answered "yes" (chest pain) the day after the patient's latest
    session, not acknowledged yet: a red flag for the whole clinic on the worklist
    (SPEC 4.2, 5.1)."""
    session = _session(patient, -1)
    report = SafetyReport(patient_id=patient.id, session_id=session.id, kind="check",
                          symptoms=["chest_pain"], alert=True,
                          created_at=_aware(session.treated_at) + timedelta(days=1))
    db.session.add(report)
    db.session.commit()
    return report


def acknowledged_safety(patient: Patient, practitioner: User) -> SafetyReport:
    """The safety check answered "yes" the day after the patient's second session, and
    handled: the practitioner called and wrote what they found (SPEC 4.2, 5.1)."""
    session = _session(patient, 1)
    at = _aware(session.treated_at) + timedelta(days=1)
    report = SafetyReport(
        patient_id=patient.id, session_id=session.id, kind="check",
        symptoms=["upper_back_shoulder_neck_pain"], alert=True, created_at=at,
        acknowledged_at=at + timedelta(hours=3), acknowledged_by_id=practitioner.id,
        acknowledgement_note="Called: soreness where needled, no shortness of breath or "
                             "chest pain; advised heat, and to call again if it changes.")
    db.session.add(report)
    db.session.commit()
    return report
