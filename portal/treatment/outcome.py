"""Each patient's outcome (SPEC 4.3, 4.4): the baseline (the intake's, or a practitioner's
override), the rated sessions, the stored outcome and its points for the clinic's report,
and the progress the charts draw."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, outcomes
from portal.extensions import db
from portal.models import (
    OutcomePoint,
    Patient,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.treatment import intake_link
from portal.treatment.records import numbers, sessions_for
from portal.treatment.times import TreatmentError

# --- outcome (SPEC 4.3, 4.4) ------------------------------------------------------------

def _outcome_row(patient: Patient) -> TreatmentOutcome:
    row = db.session.scalar(select(TreatmentOutcome)
                            .where(TreatmentOutcome.patient_id == patient.id))
    if row is not None:
        return row
    row = TreatmentOutcome(patient_id=patient.id, status=outcomes.UNKNOWN, rated_count=0,
                           updated_at=clock.now())
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # made meanwhile by another request
        row = db.session.scalar(select(TreatmentOutcome)
                                .where(TreatmentOutcome.patient_id == patient.id))
        assert row is not None  # the other request's row, which the unique index kept
    return row


def baseline_override(patient: Patient) -> TreatmentOutcome | None:
    row = db.session.scalar(select(TreatmentOutcome)
                            .where(TreatmentOutcome.patient_id == patient.id))
    return row if row is not None and row.baseline_override is not None else None


@dataclass
class Baseline:
    value: int | None
    source: str  # "override", "intake" or "none"
    override: TreatmentOutcome | None = None


def baseline_for(patient: Patient) -> Baseline:
    """The practitioner's baseline when set, else the intake's average pain over the past
    week (SPEC 4.4)."""
    override = baseline_override(patient)
    if override is not None:
        return Baseline(override.baseline_override, "override", override)
    value = intake_link.nprs_baseline(patient)
    return Baseline(value, "intake" if value is not None else "none")


@dataclass
class RatedSession:
    session: TreatmentSession
    number: int
    rating: SessionRating


def rated_sessions(patient: Patient,
                   sessions: list[TreatmentSession] | None = None) -> list[RatedSession]:
    """Sessions that count (not cancelled) and have a rating, in order, with numbers."""
    sessions = sessions_for(patient) if sessions is None else sessions
    numbered = numbers(sessions)
    return [RatedSession(s, numbered[s.id], s.rating) for s in sessions
            if not s.cancelled and s.rating is not None]


def refresh_outcome(patient: Patient) -> TreatmentOutcome:
    """Classify again after anything that changes it (rating, cancellation, correction,
    baseline). Part of the caller's transaction."""
    db.session.flush()
    row = _outcome_row(patient)
    base = baseline_for(patient)
    rated = rated_sessions(patient)
    ratings = [r.rating.follow_up_score for r in rated]
    change = outcomes.classify_nprs(base.value, ratings)
    row.baseline = base.value
    row.latest_nprs = change.latest
    row.rated_count = len(ratings)
    row.status = change.status
    row.worsening = change.worsening
    row.updated_at = clock.now()
    _store_points(patient, base.value, rated)
    return row


def _store_points(patient: Patient, baseline: int | None, rated: list[RatedSession]) -> None:
    """Bring the patient's OutcomePoint rows in step with their rated sessions: only the
    rows whose figures changed are written (a new rating usually adds one row and moves
    ``next_at`` of the one before)."""
    # The follow-up score (SessionRating.follow_up_score): the average pain over the past 24
    # hours, or for ratings stored before it was asked, the pain at the time of rating. Pain
    # now and soreness are never compared with the baseline (CLINICAL.md).
    points = outcomes.course_points(baseline,
                                    [(r.number, r.rating.follow_up_score) for r in rated])
    stored = {p.rating_id: p for p in db.session.scalars(
        select(OutcomePoint).where(OutcomePoint.patient_id == patient.id))}
    for i, (item, point) in enumerate(zip(rated, points)):
        values = {**asdict(point), "session_at": item.session.treated_at,
                  "next_at": rated[i + 1].session.treated_at if i + 1 < len(rated) else None}
        row = stored.pop(item.rating.id, None)
        if row is None:
            db.session.add(OutcomePoint(patient_id=patient.id, rating_id=item.rating.id,
                                        **values))
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    for row in stored.values():  # ratings of sessions cancelled since
        db.session.delete(row)


@intake_link.intake_amended.connect
def _intake_amended(patient: Patient, **_kwargs) -> None:
    """An amendment may change the intake's baseline: a patient with an outcome gets it
    classified again in the amendment's transaction."""
    if db.session.scalar(select(exists().where(TreatmentOutcome.patient_id == patient.id))):
        refresh_outcome(patient)


def set_baseline(patient: Patient, practitioner: User, value: int | None,
                 reason: str | None) -> None:
    """Use ``value`` as the patient's NPRS baseline instead of the intake's (None goes back
    to the intake's). Audited; the reason is kept with it."""
    reason = (reason or "").strip() or None
    if value is not None and not reason:
        raise TreatmentError("reason")
    if value is not None and not 0 <= value <= 10:
        raise TreatmentError("nprs_range")
    row = _outcome_row(patient)
    row.baseline_override = value
    row.baseline_override_reason = reason if value is not None else None
    row.baseline_set_by_id = practitioner.id
    row.baseline_set_at = clock.now()
    audit.write("baseline.set" if value is not None else "baseline.cleared", patient=patient,
                actor=practitioner)
    refresh_outcome(patient)
    db.session.commit()


@dataclass
class PsfsPoint:
    session: TreatmentSession
    number: int
    scores: dict[str, int]
    mean: float | None


@dataclass
class Progress:
    baseline: Baseline
    rated: list[RatedSession]
    nprs: outcomes.NprsChange
    psfs_baseline: list[tuple[str, int]]
    psfs_points: list[PsfsPoint] = field(default_factory=list)
    psfs: outcomes.PsfsChange | None = None

    @property
    def psfs_baseline_mean(self) -> float | None:
        return outcomes.mean(score for _name, score in self.psfs_baseline)


def progress(patient: Patient, sessions: list[TreatmentSession] | None = None) -> Progress:
    """Everything the progress charts and the outcome badge need, computed fresh."""
    rated = rated_sessions(patient, sessions)
    base = baseline_for(patient)
    nprs = outcomes.classify_nprs(base.value, [r.rating.follow_up_score for r in rated])
    psfs_start = intake_link.psfs_baseline(patient)
    points = [PsfsPoint(r.session, r.number,
                        {item["activity"]: item["score"] for item in r.rating.psfs},
                        r.rating.psfs_mean)
              for r in rated if r.rating.psfs]
    psfs = outcomes.classify_psfs(dict(psfs_start), points[-1].scores) if points and \
        psfs_start else None
    return Progress(base, rated, nprs, psfs_start, points, psfs)
