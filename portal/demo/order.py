"""The demo's record in clinical order (issue 14): a patient joins, fills in the intake
(signing the consent in it) and sends it, then uploads a clearance letter that is
reviewed, and only then is treated; nothing is dated after now. The features seed their
parts on their own clocks, so this last pass moves a named demo patient's earlier steps
back (never later) wherever a later step comes first."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import (
    ConsentSignature,
    Document,
    IntakeResponse,
    Patient,
    TreatmentSession,
    User,
)

GAP = timedelta(days=1)  # between two steps that had to be moved


def _shift_letter(doc: Document, by: timedelta) -> None:
    doc.created_at -= by
    if doc.reviewed_at is not None:
        doc.reviewed_at -= by
    for name in ("letter_date",):  # the physician's date on the letter, where kept
        written = getattr(doc, name, None)
        if written is not None:
            setattr(doc, name, written - by)


def _letters_before(patient: Patient, first: datetime | None) -> datetime:
    """Clearance letters reviewed before the first session; returns when the earliest
    letter was uploaded (or the first session, or now)."""
    limit = first or clock.now()
    docs = db.session.scalars(select(Document).where(Document.patient_id == patient.id)).all()
    for doc in docs:
        last = doc.reviewed_at or doc.created_at
        if first is not None and doc.status == "accepted" and last > first - GAP:
            _shift_letter(doc, last - (first - GAP))
    return min([limit, *(d.created_at for d in docs)])


def _intake_before(patient: Patient, limit: datetime) -> datetime | None:
    """The intake (and its consent) sent before ``limit``; returns when it was started."""
    response = db.session.scalar(select(IntakeResponse)
                                 .where(IntakeResponse.patient_id == patient.id))
    if response is None:
        return None
    last = response.submitted_at or response.updated_at
    by = max(last - (limit - GAP), timedelta(0))
    response.created_at -= by
    response.updated_at -= by
    if response.submitted_at is not None:
        response.submitted_at -= by
    if response.reviewed_at is not None:
        response.reviewed_at = min(response.reviewed_at - by, limit)
    for signature in db.session.scalars(select(ConsentSignature)
                                        .where(ConsentSignature.patient_id == patient.id)):
        signature.signed_at = min(signature.signed_at - by, response.submitted_at or limit)
    return response.created_at


def put_in_order() -> None:
    """Every named demo patient's steps in clinical order; commits."""
    # The named demo patients only (not the generated ones of portal.demo.bulk).
    patients = db.session.scalars(select(Patient).join(Patient.user)
                                  .where(User.email.endswith("@example.com"))).all()
    for patient in patients:
        first = db.session.scalar(select(func.min(TreatmentSession.treated_at))
                                  .where(TreatmentSession.patient_id == patient.id))
        started = _intake_before(patient, _letters_before(patient, first))
        joined = min(patient.created_at, (started or clock.now()) - GAP)
        patient.created_at = patient.user.created_at = joined
        if patient.user.email_confirmed_at is not None:
            patient.user.email_confirmed_at = joined
    db.session.commit()
