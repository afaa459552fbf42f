"""A withdrawal of consent, seen by the clinic (SPEC 11.1): the patient withdraws on their
own (portal/intake/withdraw_views.py, with their password); their practitioner is e-mailed
and the withdrawal waits on the worklist ("Consent withdrawn") and at the top of the chart
until a practitioner acknowledges it, once. The acknowledgement changes nothing about the
consent itself: the treatment gate refuses IMS until the patient signs again and a
practitioner records a new discussion (portal/intake/consent.py, ``covering``)."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from portal import audit, clock
from portal.extensions import db
from portal.models import ConsentSignature, Patient, User


def unseen(patient: Patient) -> list[ConsentSignature]:
    """The patient's withdrawals no practitioner has acknowledged, oldest first."""
    return list(db.session.scalars(
        select(ConsentSignature)
        .where(ConsentSignature.patient_id == patient.id,
               ConsentSignature.withdrawn_at.is_not(None),
               ConsentSignature.withdrawal_seen_at.is_(None))
        .order_by(ConsentSignature.withdrawn_at, ConsentSignature.id)))


def last_seen(patient: Patient) -> tuple[ConsentSignature, User | None] | None:
    """The withdrawal acknowledged last, and by whom (for whoever comes second)."""
    row = db.session.scalar(
        select(ConsentSignature)
        .where(ConsentSignature.patient_id == patient.id,
               ConsentSignature.withdrawal_seen_at.is_not(None))
        .order_by(ConsentSignature.withdrawal_seen_at.desc(), ConsentSignature.id.desc())
        .limit(1))
    if row is None:
        return None
    by = db.session.get(User, row.withdrawal_seen_by_id) if row.withdrawal_seen_by_id else None
    return row, by


def acknowledge(patient: Patient, practitioner: User) -> int:
    """Mark every withdrawal of the patient not yet acknowledged as seen by
    ``practitioner``, now: a conditional UPDATE, so two practitioners pressing at once
    acknowledge (and audit) once. Returns how many; 0 when someone did it first. Commits."""
    done = cast(CursorResult[Any], db.session.execute(
        update(ConsentSignature)
        .where(ConsentSignature.patient_id == patient.id,
               ConsentSignature.withdrawn_at.is_not(None),
               ConsentSignature.withdrawal_seen_at.is_(None))
        .values(withdrawal_seen_at=clock.now(), withdrawal_seen_by_id=practitioner.id)
        .execution_options(synchronize_session=False))).rowcount or 0
    if done:
        audit.write("consent.withdrawal_acknowledged", patient=patient, actor=practitioner,
                    detail={"count": done})
    db.session.commit()
    return done
