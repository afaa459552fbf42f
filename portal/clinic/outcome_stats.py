"""Clinic outcomes (SPEC 5.4): responder rate, mean NPRS change by session number, sessions
until meaningful improvement, and the same per patient as CSV.

Everything is computed by the database in GROUP BY aggregates over window functions
(``row_number`` numbers each patient's sessions, ``lag`` finds the rating before the last),
so the page runs the same few statements for ten patients or 100,000 (SPEC 8.5); only the
rows of the result come back (at most one per status and session number).

The rules are portal.outcomes', written in SQL with its constants: ``improved_sql`` and
``status_sql`` are ``nprs_improved`` and ``classify_nprs`` for integers, and a test holds
them to the Python functions for every combination of scores. The baseline is the one the
treatment services keep on ``TreatmentOutcome`` (the practitioner's override, else the
intake's average pain over the past week).

What the filters mean:

* **Practitioner**: patients assigned to that practitioner (as in the patient list).
* **Period** (dates on the clinic's calendar, both ends included): the patients who rated a
  session given in the period; their outcome is as of the end of the period (the latest
  rating of a session given up to then); the mean change by session number counts the
  ratings of sessions given in the period. Sessions keep their numbers in the patient's
  whole course (session 5 is the fifth session even when the period starts at it).
* Cancelled sessions do not count and have no number, as everywhere else in the portal.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, true
from sqlalchemy.orm import aliased

from portal import audit, csvexport, outcomes
from portal.extensions import db
from portal.models import Patient, SessionRating, TreatmentOutcome, TreatmentSession, User
from portal.treatment.services import clinic_datetime

# Session numbers above this are pooled in one "12+" group: few patients get that far, and
# a course of IMS is usually shorter.
SESSION_CAP = 12


@dataclass(frozen=True)
class OutcomeFilters:
    practitioner: str = ""  # a staff member's public id
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        """The query arguments that repeat these filters in a link."""
        out = {"practitioner": self.practitioner,
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


# --- the rules of portal.outcomes, in SQL ---------------------------------------------------

def improved_sql(baseline, value):
    """``outcomes.nprs_improved(baseline, value)`` for integers: at least NPRS_IMPROVED_POINTS
    down, and at least NPRS_IMPROVED_FRACTION of the baseline (compared as integers, so that
    exactly 30% counts, as with the Fraction)."""
    fraction = outcomes.NPRS_IMPROVED_FRACTION
    drop = baseline - value
    return and_(baseline > 0, drop >= outcomes.NPRS_IMPROVED_POINTS,
                drop * fraction.denominator >= baseline * fraction.numerator)


def status_sql(baseline, latest, previous):
    """``outcomes.classify_nprs(baseline, ratings).status`` from the baseline, the latest
    rating and the one before it (NULL when missing)."""
    worse = or_(and_(baseline.is_not(None), latest - baseline >= outcomes.NPRS_WORSE_POINTS),
                and_(previous.is_not(None), latest - previous >= outcomes.NPRS_WORSE_POINTS))
    return case((latest.is_(None), outcomes.UNKNOWN),
                (worse, outcomes.WORSE),
                (baseline.is_(None), outcomes.UNKNOWN),
                (improved_sql(baseline, latest), outcomes.IMPROVED),
                else_=outcomes.UNCHANGED)


# --- the statements -----------------------------------------------------------------------

def _bounds(filters: OutcomeFilters) -> tuple[datetime | None, datetime | None]:
    """The period as UTC instants: from the start of its first day to the start of the day
    after its last, on the clinic's wall clock."""
    start = clinic_datetime(filters.date_from, time.min) if filters.date_from else None
    end = (clinic_datetime(filters.date_to + timedelta(days=1), time.min)
           if filters.date_to else None)
    return start, end


@dataclass
class _Query:
    """The common table expressions every statement here starts from."""
    numbered: object  # every counted session, numbered in its patient's course
    rated: object     # the rated ones up to the end of the period, with the previous rating
    per_patient: object  # one row per patient who rated a session in the period
    in_period: object


def _query(filters: OutcomeFilters) -> _Query:
    start, end = _bounds(filters)
    s = TreatmentSession
    numbered = select(
        s.id.label("session_id"), s.patient_id, s.treated_at,
        func.row_number().over(partition_by=s.patient_id,
                               order_by=(s.treated_at, s.id)).label("number"),
    ).where(s.status == "recorded")
    if filters.practitioner:
        # Whole patients in or out: their sessions' numbers do not change.
        practitioner = aliased(User, name="practitioner")
        numbered = (numbered.join(Patient, Patient.id == s.patient_id)
                    .join(practitioner, practitioner.id == Patient.practitioner_id)
                    .where(practitioner.public_id == filters.practitioner))
    numbered = numbered.cte("numbered")
    n = numbered.c
    rated = (select(n.patient_id, n.session_id, n.number, n.treated_at,
                    SessionRating.pain_now.label("pain"),
                    func.lag(SessionRating.pain_now).over(
                        partition_by=n.patient_id,
                        order_by=(n.treated_at, n.session_id)).label("previous"),
                    func.row_number().over(
                        partition_by=n.patient_id,
                        order_by=(n.treated_at.desc(), n.session_id.desc())).label("from_last"))
             .join(SessionRating, SessionRating.session_id == n.session_id))
    if end is not None:
        rated = rated.where(n.treated_at < end)
    rated = rated.cte("rated")
    r = rated.c
    in_period = r.treated_at >= start if start is not None else true()
    baseline = TreatmentOutcome.baseline
    per_patient = (
        select(r.patient_id, baseline.label("baseline"),
               func.max(case((r.from_last == 1, r.pain))).label("latest"),
               func.max(case((r.from_last == 1, r.previous))).label("previous"),
               func.count().label("rated"),
               func.min(case((improved_sql(baseline, r.pain), r.number))).label("first_improved"))
        .select_from(rated)
        .outerjoin(TreatmentOutcome, TreatmentOutcome.patient_id == r.patient_id)
        .group_by(r.patient_id, baseline))
    if start is not None:
        per_patient = per_patient.having(func.max(case((in_period, 1), else_=0)) == 1)
    per_patient = per_patient.cte("per_patient")
    return _Query(numbered, rated, per_patient, in_period)


# --- the page -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionMean:
    number: int  # SESSION_CAP + 1 stands for "more than SESSION_CAP"
    patients: int
    mean_change: float

    @property
    def label(self) -> str:
        return f"{SESSION_CAP}+" if self.number > SESSION_CAP else str(self.number)


@dataclass
class Outcomes:
    patients: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_session: list[SessionMean] = field(default_factory=list)
    # Number of the first session that met the improvement rule -> how many patients.
    improvement_at: dict[int, int] = field(default_factory=dict)

    @property
    def improved(self) -> int:
        return self.by_status.get(outcomes.IMPROVED, 0)

    @property
    def responder_rate(self) -> float | None:
        """Improved patients as a share (0-1) of those who rated a session."""
        return self.improved / self.patients if self.patients else None

    @property
    def reached_improvement(self) -> int:
        return sum(self.improvement_at.values())

    @property
    def median_sessions_to_improvement(self) -> float | None:
        """Among the patients who reached a meaningful improvement."""
        return median_of_counts(self.improvement_at)


def median_of_counts(counts: dict[int, int]) -> float | None:
    """The median of values given as value -> how many times (a histogram)."""
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(k: int) -> int:  # the k-th value (from 0) in sorted order
        seen = 0
        for value, count in ordered:
            seen += count
            if k < seen:
                return value
        raise IndexError(k)

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def compute(filters: OutcomeFilters) -> Outcomes:
    """Two statements, whatever the number of patients."""
    q = _query(filters)
    p = q.per_patient.c
    status = status_sql(p.baseline, p.latest, p.previous).label("status")
    per_status = select(status, p.first_improved).subquery("per_status")
    result = Outcomes()
    rows = db.session.execute(
        select(per_status.c.status, per_status.c.first_improved, func.count().label("n"))
        .group_by(per_status.c.status, per_status.c.first_improved))
    for row in rows:
        result.patients += row.n
        result.by_status[row.status] = result.by_status.get(row.status, 0) + row.n
        if row.first_improved is not None:
            result.improvement_at[row.first_improved] = \
                result.improvement_at.get(row.first_improved, 0) + row.n

    r = q.rated.c
    bucket = case((r.number > SESSION_CAP, SESSION_CAP + 1), else_=r.number).label("bucket")
    changes = (select(bucket, (r.pain - TreatmentOutcome.baseline).label("change"))
               .select_from(q.rated)
               .join(TreatmentOutcome, TreatmentOutcome.patient_id == r.patient_id)
               .where(TreatmentOutcome.baseline.is_not(None), q.in_period)
               .subquery("changes"))
    for row in db.session.execute(
            select(changes.c.bucket, func.count().label("n"),
                   func.avg(changes.c.change).label("mean"))
            .group_by(changes.c.bucket).order_by(changes.c.bucket)):
        result.by_session.append(SessionMean(int(row.bucket), row.n, float(row.mean)))
    return result


# --- one row per patient (CSV) ------------------------------------------------------------

CSV_HEADER = ["patient_id", "practitioner", "baseline_nprs", "latest_nprs", "change_points",
              "change_percent", "status", "sessions", "rated_sessions",
              "sessions_to_improvement"]


@dataclass(frozen=True)
class PatientOutcome:
    public_id: str
    practitioner: str | None
    change: outcomes.NprsChange
    sessions: int
    rated: int
    first_improved: int | None

    def cells(self) -> list[object]:
        percent = self.change.percent
        return [self.public_id, self.practitioner or "", self.change.baseline,
                self.change.latest, self.change.points,
                round(percent, 1) if percent is not None else None, self.change.status,
                self.sessions, self.rated, self.first_improved]


def patient_outcomes(filters: OutcomeFilters, batch: int = 500) -> Iterator[PatientOutcome]:
    """One statement, read ``batch`` rows at a time, patients in the order they joined."""
    q = _query(filters)
    p = q.per_patient.c
    n = q.numbered.c
    _start, end = _bounds(filters)
    counted = select(n.patient_id, func.count().label("sessions"))
    if end is not None:
        counted = counted.where(n.treated_at < end)
    counted = counted.group_by(n.patient_id).subquery("counted")
    practitioner = aliased(User, name="practitioner")
    stmt = (select(Patient.public_id, practitioner.name.label("practitioner"), p.baseline,
                   p.latest, p.previous, p.rated, p.first_improved,
                   func.coalesce(counted.c.sessions, literal(0)).label("sessions"),
                   status_sql(p.baseline, p.latest, p.previous).label("status"))
            .select_from(q.per_patient)
            .join(Patient, Patient.id == p.patient_id)
            .outerjoin(practitioner, practitioner.id == Patient.practitioner_id)
            .outerjoin(counted, counted.c.patient_id == p.patient_id)
            .order_by(Patient.id)
            .execution_options(yield_per=batch))
    for row in db.session.execute(stmt):
        change = outcomes.NprsChange(row.status, row.baseline, row.latest, row.previous)
        yield PatientOutcome(row.public_id, row.practitioner, change, row.sessions, row.rated,
                             row.first_improved)


def outcomes_csv(filters: OutcomeFilters) -> Iterator[str]:
    return csvexport.stream(CSV_HEADER, (row.cells() for row in patient_outcomes(filters)))


def record_export(viewer: User, filters: OutcomeFilters) -> None:
    """The export is an event of the audit log, stored before the first byte leaves."""
    audit.write("outcomes.exported", actor=viewer, detail=filters.as_args() or None)
    db.session.commit()
