"""Reading sessions and ratings (SPEC 4): by public id, a patient's course in order, each
session's number in it, and which sessions ask the PSFS activities again."""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Patient, SessionRating, TreatmentSession
from portal.treatment import intake_link
from portal.treatment.times import PSFS_EVERY

# --- reading ----------------------------------------------------------------------------

def session_by_public_id(public_id: str) -> TreatmentSession | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(TreatmentSession)
                             .where(TreatmentSession.public_id == public_id)
                             .options(joinedload(TreatmentSession.patient)
                                      .joinedload(Patient.user),
                                      joinedload(TreatmentSession.rating)))


def rating_by_public_id(public_id: str) -> SessionRating | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(SessionRating).where(SessionRating.public_id == public_id)
                             .options(joinedload(SessionRating.session),
                                      joinedload(SessionRating.patient)))


def sessions_for(patient: Patient) -> list[TreatmentSession]:
    """Every session of the patient, cancelled ones included, oldest first, with ratings
    and the people involved loaded in the same few queries."""
    return list(db.session.scalars(
        select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
        .options(joinedload(TreatmentSession.rating), joinedload(TreatmentSession.recorded_by),
                 joinedload(TreatmentSession.cancelled_by))
        .order_by(TreatmentSession.treated_at, TreatmentSession.id)))


def last_regions(patient: Patient) -> list[str]:
    """The regions of the patient's latest session that was not cancelled (none: []): where
    the next session most likely starts (SPEC 4.1)."""
    regions = db.session.scalar(
        select(TreatmentSession.regions)
        .where(TreatmentSession.patient_id == patient.id,
               TreatmentSession.status == "recorded")
        .order_by(TreatmentSession.treated_at.desc(), TreatmentSession.id.desc()).limit(1))
    return list(regions or [])


def numbers(sessions: list[TreatmentSession]) -> dict[int, int]:
    """Session id -> its number (1, 2, ...) among the patient's sessions that were not
    cancelled, in time order. ``sessions`` as sessions_for() returns them."""
    out: dict[int, int] = {}
    for s in sessions:
        if not s.cancelled:
            out[s.id] = len(out) + 1
    return out


def session_number(session: TreatmentSession) -> int | None:
    if session.cancelled:
        return None
    earlier = db.session.scalar(
        select(func.count()).select_from(TreatmentSession)
        .where(TreatmentSession.patient_id == session.patient_id,
               TreatmentSession.status == "recorded",
               or_(TreatmentSession.treated_at < session.treated_at,
                   and_(TreatmentSession.treated_at == session.treated_at,
                        TreatmentSession.id < session.id))))
    return (earlier or 0) + 1


def psfs_activities_for(session: TreatmentSession) -> list[str]:
    """The intake's PSFS activities when this session is a third one (3, 6, 9...)."""
    number = session_number(session)
    if number is None or number % PSFS_EVERY:
        return []
    return [name for name, _score in intake_link.psfs_baseline(session.patient)]
