"""Clinic outcomes (SPEC 5.4): responder rate, mean NPRS change by session number, sessions
until meaningful improvement, and the same per patient as CSV.

The figures are sums over ``outcome_points``: the treatment services store, with each rating,
the patient's outcome as it stood after that session (portal.outcomes.course_points: the
session's number in the course, the change from the baseline, the status, the worsening
alert, the first session that met the improvement rule). The page therefore runs the same
two GROUP BY statements for ten patients or 100,000 (SPEC 8.5), read from indexes, and only
the rows of the result come back (at most one per status, alert and session number); a
third counts the improvement kept at each follow-up delay (followups.py). The
baseline is the one the treatment services keep on ``TreatmentOutcome`` (the practitioner's
override, else the intake's average pain over the past week).

One responder rule everywhere (portal/outcomes.py): a responder is a patient whose latest
rating is at least 2 points and at least 30% below the baseline (IMMPACT, Dworkin et al.
2008; Farrar et al. 2001), counted as such even when that rating carries the worsening alert
(2 points or more up on the one before); the page and the CSV show the alert beside it.

What the filters mean:

* **Practitioner**: patients assigned to that practitioner (as in the patient list).
* **Period** (dates on the clinic's calendar, both ends included): the patients who rated a
  session given in the period; their outcome is as of the end of the period (the latest
  rating of a session given up to then); the mean change by session number counts the
  ratings of sessions given in the period. Sessions keep their numbers in the patient's
  whole course (session 5 is the fifth session even when the period starts at it).
* Cancelled sessions do not count and have no number, as everywhere else in the portal.

The CSV has a row for each patient the page counts: those who rated a session in the
period, and those who answered a follow-up in it (followups.py), whose outcome columns are
then empty.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, literal, or_, select, union
from sqlalchemy.orm import aliased

from portal import audit, csvexport, outcomes
from portal.clinic.outcomes import followups
from portal.extensions import db
from portal.models import (
    OutcomePoint,
    Patient,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
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


# --- the statements -----------------------------------------------------------------------

def _bounds(filters: OutcomeFilters) -> tuple[datetime | None, datetime | None]:
    """The period as UTC instants: from the start of its first day to the start of the day
    after its last, on the clinic's wall clock."""
    start = clinic_datetime(filters.date_from, time.min) if filters.date_from else None
    end = (clinic_datetime(filters.date_to + timedelta(days=1), time.min)
           if filters.date_to else None)
    return start, end


def _in_period(point, start: datetime | None, end: datetime | None) -> list:
    where = []
    if start is not None:
        where.append(point.session_at >= start)
    if end is not None:
        where.append(point.session_at < end)
    return where


def _of_practitioner(stmt: Select, patient_id, filters: OutcomeFilters) -> Select:
    """Whole patients in or out: their sessions' numbers do not change."""
    if not filters.practitioner:
        return stmt
    practitioner = aliased(User, name="practitioner")
    return (stmt.join(Patient, Patient.id == patient_id)
            .join(practitioner, practitioner.id == Patient.practitioner_id)
            .where(practitioner.public_id == filters.practitioner))


def _as_of(filters: OutcomeFilters):
    """One OutcomePoint per patient who rated a session in the period: the one that was
    their outcome at its end. That is the point of the last rating before the end (given
    before it, next one at it or after it, or none), and the patient rated a session in the
    period exactly when that rating was given in it: a range of rows, read by index."""
    start, end = _bounds(filters)
    point = OutcomePoint
    stmt = select(point).where(*_in_period(point, start, end))
    if end is None:
        stmt = stmt.where(point.next_at.is_(None))
    else:
        stmt = stmt.where(or_(point.next_at.is_(None), point.next_at >= end))
    return _of_practitioner(stmt, point.patient_id, filters).subquery("as_of")


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
    # Patients with the worsening alert, by status: responders ("improved") can have it.
    alert_by_status: dict[str, int] = field(default_factory=dict)
    # Improvement kept at each follow-up delay (portal/clinic/outcomes/followups.py).
    kept_at: list[followups.KeptAt] = field(default_factory=list)

    @property
    def improved(self) -> int:
        return self.by_status.get(outcomes.IMPROVED, 0)

    @property
    def responders_with_alert(self) -> int:
        """Responders whose latest rating is 2 points or more up on the one before."""
        return self.alert_by_status.get(outcomes.IMPROVED, 0)

    @property
    def responder_rate(self) -> float | None:
        """Responders (portal.outcomes: the latest rating at least 2 points and 30% below the
        baseline, whatever the worsening alert) as a share (0-1) of those who rated a
        session."""
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
    """Three statements, whatever the number of patients: the page and the shared report
    (portal/clinic/outcomes/report.py) both show what this returns."""
    as_of = _as_of(filters)
    result = Outcomes(kept_at=followups.kept_at(filters, *_bounds(filters)))
    rows = db.session.execute(
        select(as_of.c.status, as_of.c.first_improved, as_of.c.worsening,
               func.count().label("n"))
        .group_by(as_of.c.status, as_of.c.first_improved, as_of.c.worsening))
    for row in rows:
        result.patients += row.n
        result.by_status[row.status] = result.by_status.get(row.status, 0) + row.n
        if row.worsening:
            result.alert_by_status[row.status] = \
                result.alert_by_status.get(row.status, 0) + row.n
        if row.first_improved is not None:
            result.improvement_at[row.first_improved] = \
                result.improvement_at.get(row.first_improved, 0) + row.n

    # By session number in the index's order (no sort), pooled above the cap here: at most
    # one row per session number comes back.
    start, end = _bounds(filters)
    p = OutcomePoint
    changes = _of_practitioner(
        select(p.number, func.count().label("n"), func.sum(p.change).label("total"))
        .where(p.change.is_not(None), *_in_period(p, start, end)),
        p.patient_id, filters).group_by(p.number).order_by(p.number)
    pooled: dict[int, list[int]] = {}
    for row in db.session.execute(changes):
        sums = pooled.setdefault(min(row.number, SESSION_CAP + 1), [0, 0])
        sums[0] += row.n
        sums[1] += row.total
    result.by_session = [SessionMean(number, n, total / n)
                         for number, (n, total) in sorted(pooled.items())]
    return result


# --- one row per patient (CSV) ------------------------------------------------------------

# ``score_question``: the question the latest follow-up score answered, "average_24h" (the
# average pain over the past 24 hours) or "pain_now" (the pain at the time of rating, for
# ratings stored before that question was asked): SessionRating.score_question.
# (last, so that the columns before it stay where they were).
CSV_HEADER = ["patient_id", "practitioner", "baseline_nprs", "latest_nprs", "change_points",
              "change_percent", "status", "worsening_alert", "sessions", "rated_sessions",
              "sessions_to_improvement", "score_question"]


@dataclass(frozen=True)
class PatientOutcome:
    public_id: str
    practitioner: str | None
    change: outcomes.NprsChange
    worsening: bool
    sessions: int
    rated: int
    first_improved: int | None
    score_question: str | None = None
    # The follow-up columns (followups.csv_header), after all the others.
    follow_ups: tuple = ()

    def cells(self) -> list[object]:
        percent = self.change.percent
        return [self.public_id, self.practitioner or "", self.change.baseline,
                self.change.latest, self.change.points,
                round(percent, 1) if percent is not None else None, self.change.status,
                "" if self.change.status is None else ("yes" if self.worsening else "no"),
                self.sessions, self.rated, self.first_improved,
                self.score_question or "", *self.follow_ups]


CSV_BATCH = 500  # rows fetched at a time while streaming


def patient_outcomes(filters: OutcomeFilters, batch: int = CSV_BATCH) -> Iterator[PatientOutcome]:
    """One statement, read ``batch`` rows at a time, patients in the order they joined. The
    statement (its period on the clinic's clock) is made now; the rows are read as they are
    iterated, which for the CSV is after the request (see portal.streaming)."""
    weeks = followups.configured_weeks()
    return _outcome_rows(_outcomes_select(filters, batch, weeks), weeks)


def csv_header() -> list[str]:
    """CSV_HEADER, then the follow-up columns of the clinic's follow-up delays."""
    return CSV_HEADER + followups.csv_header(followups.configured_weeks())


def _outcomes_select(filters: OutcomeFilters, batch: int, weeks: list[int]) -> Select:
    """The patients who rated a session in the period, and those who answered a follow-up
    in it (their outcome columns empty: no rating in the period), so that the follow-up
    columns add up to the page's figures."""
    as_of = _as_of(filters)
    start, end = _bounds(filters)
    who = union(select(as_of.c.patient_id),
                followups.answered_patients(filters, start, end, weeks)).subquery("who")
    s = TreatmentSession
    recorded = select(s.patient_id, func.count().label("sessions")).where(s.status == "recorded")
    if end is not None:
        recorded = recorded.where(s.treated_at < end)
    counted = recorded.group_by(s.patient_id).subquery("counted")
    practitioner = aliased(User, name="practitioner")
    stmt = (select(Patient.public_id, practitioner.name.label("practitioner"),
                   TreatmentOutcome.baseline, as_of.c.pain, as_of.c.previous, as_of.c.rated,
                   as_of.c.first_improved, as_of.c.status, as_of.c.worsening,
                   SessionRating.score_question,
                   func.coalesce(counted.c.sessions, literal(0)).label("sessions"))
            .select_from(who)
            .join(Patient, Patient.id == who.c.patient_id)
            .outerjoin(as_of, as_of.c.patient_id == who.c.patient_id)
            .outerjoin(SessionRating, SessionRating.id == as_of.c.rating_id)
            .outerjoin(TreatmentOutcome, TreatmentOutcome.patient_id == who.c.patient_id)
            .outerjoin(practitioner, practitioner.id == Patient.practitioner_id)
            .outerjoin(counted, counted.c.patient_id == who.c.patient_id)
            .order_by(Patient.id)
            .execution_options(yield_per=batch))
    return followups.add_columns(stmt, who.c.patient_id, weeks, filters, start, end)


def _outcome_rows(stmt: Select, weeks: list[int]) -> Iterator[PatientOutcome]:
    for row in db.session.execute(stmt):
        change = outcomes.NprsChange(row.status, row.baseline, row.pain, row.previous)
        yield PatientOutcome(row.public_id, row.practitioner, change, bool(row.worsening),
                             row.sessions, row.rated, row.first_improved, row.score_question,
                             followups.cells(row, weeks))


def outcomes_csv(filters: OutcomeFilters) -> Iterator[str]:
    return csvexport.stream(csv_header(),
                            (row.cells() for row in patient_outcomes(filters)))


def record_export(viewer: User, filters: OutcomeFilters) -> None:
    """The export is an event of the audit log, stored before the first byte leaves."""
    audit.write("outcomes.exported", actor=viewer, detail=filters.as_args() or None)
    db.session.commit()
