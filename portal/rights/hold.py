"""Legal hold (SPEC 11.2): a record that must be kept past its retention period (a claim,
a complaint to the College, a subpoena) is never disposed of while the hold lasts. Staff
place a hold with a reason; only an admin lifts it. Placing one cancels a pending
disposal; disposal checks the hold again under the patient's lock
(portal.rights.disposal.dispose), so a hold placed while an admin confirms wins."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update

from portal import audit, clock
from portal.extensions import db
from portal.models import Patient, RecordDisposal, User
from portal.models.patient import DISPOSED
from portal.rights.disposal import PENDING, DisposalError
from portal.rights.retention import lock_patient

REASON_MAX = 500


def place(patient: Patient, actor: User, reason: str) -> None:
    db.session.commit()
    locked = lock_patient(patient.id)
    if locked is None or locked.status == DISPOSED:
        db.session.rollback()
        raise DisposalError("disposed")
    if locked.legal_hold:
        db.session.rollback()
        raise DisposalError("already_held")
    locked.legal_hold = True
    locked.legal_hold_reason = reason.strip()
    locked.legal_hold_at = clock.now()
    locked.legal_hold_by_id = actor.id
    cancelled = cast(CursorResult[Any], db.session.execute(
        update(RecordDisposal)
        .where(RecordDisposal.patient_id == locked.id, RecordDisposal.status.in_(PENDING))
        .values(status="cancelled", cancelled_at=clock.now()))).rowcount
    # The reason may name a claim or a person: it stays on the record, not in the audit.
    audit.write("patient.legal_hold_placed", patient=locked, actor=actor,
                detail={"disposal_cancelled": bool(cancelled)})
    db.session.commit()


def lift(patient: Patient, admin: User) -> None:
    if not admin.is_admin:
        raise DisposalError("admin_only")
    db.session.commit()
    locked = lock_patient(patient.id)
    if locked is None or not locked.legal_hold:
        db.session.rollback()
        raise DisposalError("not_held")
    locked.legal_hold = False
    locked.legal_hold_reason = None
    locked.legal_hold_at = None
    locked.legal_hold_by_id = None
    audit.write("patient.legal_hold_lifted", patient=locked, actor=admin)
    db.session.commit()
