"""Outcomes after discharge (SPEC 12.1, 5.4): "improvement kept at 6 / 12 weeks" on the
outcomes page and the shared report, and the follow-up columns of the outcomes CSV.

**Improvement kept at W weeks**: among the follow-ups answered W weeks after a discharge
whose patient was a responder at discharge (``FollowUp.improved_at_discharge``: the latest
rating at least 2 points and at least 30% below the baseline, IMMPACT, Dworkin et al., J
Pain 2008; Farrar et al., Pain 2001; CLINICAL.md "Responder"), those whose average pain over
the past 24 hours still meets the same rule against the same baseline (``FollowUp.kept``).
The delays are the clinic's settings (``follow_up_first_weeks``, ``follow_up_second_weeks``);
follow-ups are grouped by their own ``weeks``, so those sent before a change of setting
still count, under the delay they were sent at.

The filters mean what they mean for the rest of the page (portal/clinic/outcomes/services):
the practitioner the patient is assigned to, and a period of days on the clinic's calendar,
here applied to when the follow-up was answered. One GROUP BY statement, whatever the number
of patients. Disposed records (SPEC 11.2) never count.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import aliased

from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import FollowUp, Patient, User
from portal.treatment.times import clinic_date


@dataclass(frozen=True)
class KeptAt:
    weeks: int
    answered: int = 0  # follow-ups answered at this delay
    improved: int = 0  # of those, of patients who were responders at discharge
    kept: int = 0  # of those, still meeting the improvement rule
    patients: int = 0  # how many patients the ``improved`` follow-ups come from

    @property
    def rate(self) -> float | None:
        return self.kept / self.improved if self.improved else None


def configured_weeks() -> list[int]:
    """The clinic's follow-up delays, in weeks (a setting left empty turns one off)."""
    settings = current_settings()
    found = {settings.follow_up_first_weeks, settings.follow_up_second_weeks}
    return sorted(w for w in found if w)


def _period(start, end) -> list:
    where = []
    if start is not None:
        where.append(FollowUp.answered_at >= start)
    if end is not None:
        where.append(FollowUp.answered_at < end)
    return where


def _of(stmt: Select, filters) -> Select:
    """Patients not disposed, of the practitioner chosen (if any)."""
    stmt = stmt.join(Patient, Patient.id == FollowUp.patient_id).where(
        Patient.status != "disposed")
    if filters.practitioner:
        practitioner = aliased(User, name="practitioner")
        stmt = (stmt.join(practitioner, practitioner.id == Patient.practitioner_id)
                .where(practitioner.public_id == filters.practitioner))
    return stmt


def kept_at(filters, start, end) -> list[KeptAt]:
    """One line per configured delay (empty ones included) and per other delay that has
    follow-ups answered in the period (``start`` to ``end``, UTC, either None), shortest
    first."""
    improved = FollowUp.improved_at_discharge.is_(True)
    stmt = _of(select(
        FollowUp.weeks, func.count().label("answered"),
        func.sum(case((improved, 1), else_=0)).label("improved"),
        func.sum(case((and_(improved, FollowUp.kept.is_(True)), 1), else_=0)).label("kept"),
        func.count(func.distinct(case((improved, FollowUp.patient_id)))).label("patients"))
        .where(FollowUp.status == "answered", *_period(start, end)), filters
    ).group_by(FollowUp.weeks)
    found = {row.weeks: KeptAt(row.weeks, row.answered, int(row.improved or 0),
                               int(row.kept or 0), row.patients)
             for row in db.session.execute(stmt)}
    for weeks in configured_weeks():
        found.setdefault(weeks, KeptAt(weeks))
    return [found[weeks] for weeks in sorted(found)]


# --- the CSV ------------------------------------------------------------------------------

CSV_FIELDS = ("pain", "pgic", "kept", "answered")


def csv_header(weeks: list[int]) -> list[str]:
    """followup_6w_pain, followup_6w_pgic, followup_6w_kept, followup_6w_answered, ..."""
    return [f"followup_{w}w_{name}" for w in weeks for name in CSV_FIELDS]


def add_columns(stmt: Select, patient_id, weeks: list[int], end) -> Select:
    """``stmt`` (one row per patient, ``patient_id`` its patient's column) with, for each
    delay of ``weeks``, the patient's latest follow-up answered at that delay (before
    ``end``, the end of the period, if any): its average pain, PGIC, kept and when."""
    for w in weeks:
        rank = func.row_number().over(partition_by=FollowUp.patient_id,
                                      order_by=(FollowUp.answered_at.desc(),
                                                FollowUp.id.desc()))
        ranked = select(FollowUp.patient_id, FollowUp.pain_average, FollowUp.pgic,
                        FollowUp.kept, FollowUp.answered_at, rank.label("rank")).where(
            FollowUp.status == "answered", FollowUp.weeks == w)
        if end is not None:
            ranked = ranked.where(FollowUp.answered_at < end)
        latest = ranked.subquery(f"followup_{w}w")
        stmt = (stmt.outerjoin(latest, and_(latest.c.patient_id == patient_id,
                                            latest.c.rank == 1))
                .add_columns(latest.c.pain_average.label(f"fu{w}_pain"),
                             latest.c.pgic.label(f"fu{w}_pgic"),
                             latest.c.kept.label(f"fu{w}_kept"),
                             latest.c.answered_at.label(f"fu{w}_answered")))
    return stmt


def cells(row, weeks: list[int]) -> tuple:
    """The follow-up cells of one CSV row: empty where there is no answered follow-up; the
    date answered is a day on the clinic's calendar."""
    out: list[object] = []
    for w in weeks:
        answered = getattr(row, f"fu{w}_answered")
        if answered is None:
            out += ["", "", "", ""]
            continue
        kept = getattr(row, f"fu{w}_kept")
        out += [getattr(row, f"fu{w}_pain"), getattr(row, f"fu{w}_pgic"),
                "" if kept is None else ("yes" if kept else "no"),
                clinic_date(answered).isoformat()]
    return tuple(out)
