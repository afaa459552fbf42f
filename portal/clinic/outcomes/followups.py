"""Outcomes after discharge (SPEC 12.1, 5.4): "improvement kept at 6 / 12 weeks" on the
outcomes page and the shared report, and the follow-up columns of the outcomes CSV.

**Improvement kept at W weeks**: among the patients who answered a follow-up W weeks after
a discharge in the period (each counted once: their latest such answer) and were responders
at that discharge (``FollowUp.improved_at_discharge``: the latest rating of a session given
before it at least 2 points and at least 30% below the baseline, IMMPACT, Dworkin et al., J
Pain 2008; Farrar et al., Pain 2001; CLINICAL.md "Responder"), those whose average pain over
the past 24 hours still meets the same rule against the same baseline (``FollowUp.kept``).
The delays are the clinic's settings (``follow_up_first_weeks``, ``follow_up_second_weeks``);
follow-ups are grouped by their own ``weeks``, so those sent before a change of setting
still count, under the delay they were sent at.

The filters mean what they mean for the rest of the page (portal/clinic/outcomes/services):
the practitioner the patient is assigned to, and a period of days on the clinic's calendar,
here applied to when the follow-up was answered. One GROUP BY statement, whatever the number
of patients. Disposed records (SPEC 11.2) never count. The CSV's follow-up columns show, on
each patient's row, the very follow-up the page counts for them, at each of the clinic's
delays now (a delay no longer set has no columns); a patient who answered one in the
period but rated no session in it has a row with the follow-up columns only.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.followups.services import configured_weeks
from portal.models import FollowUp, Patient, User
from portal.treatment.times import clinic_date


@dataclass(frozen=True)
class KeptAt:
    """Patients, each counted once per delay (by their latest follow-up answered at it in
    the period: a patient discharged twice is one patient)."""
    weeks: int
    answered: int = 0  # patients who answered a follow-up at this delay
    improved: int = 0  # of those, responders at discharge
    kept: int = 0  # of those, still meeting the improvement rule
    # How many patients ``kept`` is out of: ``improved``, named for the page's column.
    patients: int = 0

    @property
    def rate(self) -> float | None:
        return self.kept / self.improved if self.improved else None


def _period(start, end) -> list:
    where = []
    if start is not None:
        where.append(FollowUp.answered_at >= start)
    if end is not None:
        where.append(FollowUp.answered_at < end)
    return where


def _latest(filters, start, end, weeks: int | None = None):
    """Each patient's latest follow-up answered in the period (``start`` to ``end``, UTC,
    either None) at each delay (only ``weeks`` if given), of patients not disposed and of
    the practitioner chosen (if any): the rows of rank 1. The page and the CSV both read
    this, so that the CSV's columns add up to the page's figures."""
    rank = func.row_number().over(partition_by=(FollowUp.patient_id, FollowUp.weeks),
                                  order_by=(FollowUp.answered_at.desc(), FollowUp.id.desc()))
    stmt = select(FollowUp.patient_id, FollowUp.weeks, FollowUp.pain_average, FollowUp.pgic,
                  FollowUp.improved_at_discharge, FollowUp.kept, FollowUp.answered_at,
                  rank.label("rank")).where(FollowUp.status == "answered",
                                            *_period(start, end))
    if weeks is not None:
        stmt = stmt.where(FollowUp.weeks == weeks)
    stmt = stmt.join(Patient, Patient.id == FollowUp.patient_id).where(
        Patient.status != "disposed")
    if filters.practitioner:
        practitioner = aliased(User, name="practitioner")
        stmt = (stmt.join(practitioner, practitioner.id == Patient.practitioner_id)
                .where(practitioner.public_id == filters.practitioner))
    return stmt.subquery("latest" if weeks is None else f"followup_{weeks}w")


def kept_at(filters, start, end) -> list[KeptAt]:
    """One line per configured delay (empty ones included) and per other delay that has
    follow-ups answered in the period, shortest first."""
    latest = _latest(filters, start, end)
    improved = latest.c.improved_at_discharge.is_(True)
    responders = func.sum(case((improved, 1), else_=0))
    stmt = (select(latest.c.weeks, func.count().label("answered"),
                   responders.label("improved"),
                   func.sum(case((and_(improved, latest.c.kept.is_(True)), 1), else_=0))
                   .label("kept"))
            .where(latest.c.rank == 1).group_by(latest.c.weeks))
    found = {}
    for row in db.session.execute(stmt):
        responded = int(row.improved or 0)
        found[row.weeks] = KeptAt(row.weeks, row.answered, responded, int(row.kept or 0),
                                  responded)
    for weeks in configured_weeks():
        found.setdefault(weeks, KeptAt(weeks))
    return [found[weeks] for weeks in sorted(found)]


# --- the CSV ------------------------------------------------------------------------------

# ``responder_at_discharge``: "yes" or "no"; ``kept``: "yes" or "no" for a responder at
# discharge (the page's definition), empty otherwise and when there is no baseline. Summed
# over the rows of a period, they give the page's figures for that period.
CSV_FIELDS = ("pain", "pgic", "responder_at_discharge", "kept", "answered")


def csv_header(weeks: list[int]) -> list[str]:
    """followup_6w_pain, followup_6w_pgic, followup_6w_responder_at_discharge, ..."""
    return [f"followup_{w}w_{name}" for w in weeks for name in CSV_FIELDS]


def answered_patients(filters, start, end, weeks: list[int]) -> Select:
    """The patients with a follow-up at one of ``weeks`` answered in the period: the CSV has
    a row for each, even without a session rated in the period."""
    latest = _latest(filters, start, end)
    return select(latest.c.patient_id).where(latest.c.rank == 1, latest.c.weeks.in_(weeks))


def add_columns(stmt: Select, patient_id, weeks: list[int], filters, start, end) -> Select:
    """``stmt`` (one row per patient, ``patient_id`` its patient's column) with, for each
    delay of ``weeks``, the patient's latest follow-up answered at that delay in the period
    (the one the page counts): its average pain, PGIC, responder flag, kept and when."""
    for w in weeks:
        latest = _latest(filters, start, end, w)
        stmt = (stmt.outerjoin(latest, and_(latest.c.patient_id == patient_id,
                                            latest.c.rank == 1))
                .add_columns(latest.c.pain_average.label(f"fu{w}_pain"),
                             latest.c.pgic.label(f"fu{w}_pgic"),
                             latest.c.improved_at_discharge.label(f"fu{w}_responder"),
                             latest.c.kept.label(f"fu{w}_kept"),
                             latest.c.answered_at.label(f"fu{w}_answered")))
    return stmt


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def cells(row, weeks: list[int]) -> tuple:
    """The follow-up cells of one CSV row: empty where there is no answered follow-up; the
    date answered is a day on the clinic's calendar."""
    out: list[object] = []
    for w in weeks:
        answered = getattr(row, f"fu{w}_answered")
        if answered is None:
            out += [""] * len(CSV_FIELDS)
            continue
        responder = bool(getattr(row, f"fu{w}_responder"))
        out += [getattr(row, f"fu{w}_pain"), getattr(row, f"fu{w}_pgic"), _yes_no(responder),
                _yes_no(getattr(row, f"fu{w}_kept")) if responder else "",
                clinic_date(answered).isoformat()]
    return tuple(out)
