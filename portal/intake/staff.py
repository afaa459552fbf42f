"""What practitioners do with sent intakes (SPEC 2.7, 5.3, 7.1): read them (audited), mark
them reviewed once (with a note when they have red flags), and find the new ones, red flags
first."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, clock
from portal.extensions import db
from portal.models import IntakeResponse, Patient, User


def record_view(response: IntakeResponse | None, patient: Patient, viewer: User) -> None:
    """Every view of a patient's intake is audited (SPEC 7.1)."""
    audit.write("intake.viewed", patient=patient, actor=viewer,
                subject=response.public_id if response else None)
    db.session.commit()


REVIEW_NOTE_MIN = 3
REVIEW_NOTE_MAX = 2000


class ReviewNoteNeeded(Exception):
    """An intake with red flags is reviewed with a note (SPEC 5.1): the review is the
    clinic's acknowledgement of its red flags, and the others read what was done."""


def mark_reviewed(response: IntakeResponse, reviewer: User, note: str | None = None) -> bool:
    """Once: a second click (or a second practitioner) changes nothing. With red flags a
    note of REVIEW_NOTE_MIN characters or more is needed (ReviewNoteNeeded); without, it
    is optional."""
    note = (note or "").strip() or None
    if note is not None and len(note) > REVIEW_NOTE_MAX:
        raise ReviewNoteNeeded()
    if response.has_red_flags and (note is None or len(note) < REVIEW_NOTE_MIN):
        raise ReviewNoteNeeded()
    result = cast(CursorResult[Any], db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.status == "submitted",
               IntakeResponse.reviewed_at.is_(None))
        .values(reviewed_at=clock.now(), reviewed_by_id=reviewer.id, review_note=note)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    audit.write("intake.reviewed", patient=response.patient, actor=reviewer,
                subject=response.public_id)
    db.session.commit()
    db.session.refresh(response)
    return True


def new_intakes(limit: int = 50) -> list[IntakeResponse]:
    """Submitted and not yet reviewed: red flags first, then oldest first."""
    return list(db.session.scalars(
        select(IntakeResponse)
        .where(IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None))
        .order_by(IntakeResponse.has_red_flags.desc(), IntakeResponse.submitted_at,
                  IntakeResponse.id)
        .options(joinedload(IntakeResponse.patient).joinedload(Patient.user),
                 selectinload(IntakeResponse.amendments))
        .limit(limit)))


def count_new_intakes() -> int:
    return db.session.scalar(select(func.count()).select_from(IntakeResponse).where(
        IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None))) or 0
