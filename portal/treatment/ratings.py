"""The patient's rating of a session (SPEC 4.2): the rating window, one rating per session,
edits for RATING_EDIT_WINDOW. The safety question is not part of the rating: it is the
safety check of portal/treatment/safety.py, open from the moment the session is recorded.

The rating of a session opens RATING_OPENS_AFTER (a day) after the session, or when it is
recorded if that is later: ``rating_opens_at`` (portal/treatment/times.py says why). A
reminder is due RATING_REMINDER_AFTER after it opens, and it closes RATING_WINDOW after the
session (portal/config.py). Its follow-up score is the average pain over the past 24 hours
(``pain_average``, ``score_question`` "average_24h"); ratings stored before asked the pain
at the time of rating and keep that meaning (SessionRating.follow_up_score)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, not_, select
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, outcomes
from portal.extensions import db
from portal.models import Patient, SessionRating, TreatmentSession, User
from portal.treatment.outcome import refresh_outcome
from portal.treatment.times import (
    TreatmentError,
    closes_at,
    config_delta,
    editable_until,
    reminder_due_at,
    take_write_lock,
)

# --- the rating window (SPEC 4.2) -------------------------------------------------------

def rating_status(session: TreatmentSession, now: datetime | None = None) -> str:
    """cancelled, rated, missed (window closed without a rating), upcoming (not open yet),
    overdue (reminder time passed) or due."""
    now = now or clock.now()
    if session.cancelled:
        return "cancelled"
    if session.rating is not None:
        return "rated"
    if session.rating_closed_at is not None or now >= closes_at(session):
        return "missed"
    if now < session.rating_opens_at:
        return "upcoming"
    if now >= reminder_due_at(session):
        return "overdue"
    return "due"


def can_rate(session: TreatmentSession, now: datetime | None = None) -> bool:
    return rating_status(session, now) in ("due", "overdue")


def can_edit(rating: SessionRating, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return rating.session.status == "recorded" and now < editable_until(rating)


def _not_closed(now: datetime):
    """SQL: recorded, not rated, not closed yet (open or opening later)."""
    rated = exists().where(SessionRating.session_id == TreatmentSession.id)
    since = now - config_delta("RATING_WINDOW")
    return and_(TreatmentSession.status == "recorded",
                TreatmentSession.rating_closed_at.is_(None),
                TreatmentSession.treated_at > since,
                # Implied by the line above (a rating never opens before its session); it
                # lets the database read the rating window's index by range.
                TreatmentSession.rating_opens_at > since,
                not_(rated))


def _awaiting(now: datetime):
    """SQL: recorded, not rated, window open."""
    return and_(_not_closed(now), TreatmentSession.rating_opens_at <= now)


def overdue_clause(now: datetime):
    """SQL: sessions whose rating is past its reminder time and still open (the worklist
    filters them by practitioner; the reminders go to them)."""
    return and_(_awaiting(now),
                TreatmentSession.rating_opens_at <= now - config_delta("RATING_REMINDER_AFTER"))


def to_rate(patient: Patient) -> list[TreatmentSession]:
    """The patient's sessions waiting for a rating, oldest first (it closes first), with
    those whose rating opens later (rating_status "upcoming": the pages say from when)."""
    return list(db.session.scalars(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id, _not_closed(clock.now()))
        .order_by(TreatmentSession.treated_at, TreatmentSession.id)))


@dataclass
class RatingInput:
    pain_now: int
    pain_average: int  # the follow-up score: average pain over the past 24 hours
    pgic: int
    soreness: int
    soreness_duration: str
    comment: str | None = None
    psfs: list[dict[str, Any]] | None = None


@dataclass
class RatingResult:
    rating: SessionRating
    created: bool = False


def _rating_values(data: RatingInput) -> dict[str, Any]:
    psfs = data.psfs or None
    # Every rating given (or changed) from now on answers the average over 24 hours.
    return {"score_question": "average_24h", "pain_average": data.pain_average,
            "pain_now": data.pain_now, "pgic": data.pgic, "soreness": data.soreness,
            "soreness_duration": data.soreness_duration,
            "comment": (data.comment or "").strip() or None,
            "psfs": psfs,
            "psfs_mean": outcomes.mean(item["score"] for item in psfs) if psfs else None}


def save_rating(session: TreatmentSession, patient_user: User, data: RatingInput) -> RatingResult:
    try:
        return _save_rating(session, patient_user, data)
    except TreatmentError:
        db.session.rollback()  # let go of SQLite's write lock at once
        raise


def _save_rating(session: TreatmentSession, patient_user: User,
                 data: RatingInput) -> RatingResult:
    """The patient's rating of ``session``: created while the window is open, changed
    while it is editable (24 hours by default), refused after. The database allows one
    rating per session: of two simultaneous submissions (a double click, a retried
    request) one inserts and the other becomes an edit of it.

    Raises TreatmentError("not_open" | "closed" | "locked" | "cancelled")."""
    now = clock.now()
    if session.cancelled:
        raise TreatmentError("cancelled")
    values = _rating_values(data)
    take_write_lock()
    existing = db.session.scalar(select(SessionRating)
                                 .where(SessionRating.session_id == session.id))
    created = False
    if existing is None:
        if rating_status(session, now) == "upcoming":
            raise TreatmentError("not_open", opens_at=session.rating_opens_at)
        if not can_rate(session, now):
            raise TreatmentError("closed")
        rating = SessionRating(session_id=session.id, patient_id=session.patient_id,
                               created_at=now, updated_at=now, **values)
        try:
            with db.session.begin_nested():
                db.session.add(rating)
        except IntegrityError:  # the same rating, sent twice at once
            existing = db.session.scalar(select(SessionRating)
                                         .where(SessionRating.session_id == session.id))
        else:
            created = True
            # can_rate() loaded "no rating" onto the session; refresh_outcome() below must
            # see this one.
            session.rating = rating
    if not created:
        assert existing is not None  # found above, or inserted meanwhile by the other request
        rating = existing
        if not can_edit(rating, now):
            raise TreatmentError("locked")
    if not created:
        for name, value in values.items():
            setattr(rating, name, value)
        rating.updated_at = now
    db.session.flush()
    patient = session.patient
    patient.last_activity_at = now
    audit.write("rating.submitted" if created else "rating.changed", patient=patient,
                actor=patient_user, subject=session.public_id)
    refresh_outcome(patient)
    db.session.commit()
    return RatingResult(rating, created=created)

