"""When a record's retention period ends (SPEC 11.2).

Records are kept ``ClinicSettings.retention_years`` (default 10) after the last visit: the
College of Physiotherapists of Ontario's Record Keeping Standard asks for at least 10 years
after the last interaction (or 10 years after the patient's 18th birthday, if later); other
provinces differ, hence the setting. The last visit is the last treatment session that was
not cancelled; a patient never treated counts from their discharge, else from when their
record was opened. The period ends on the same calendar day ``years`` later (28 February for
a 29 February), in the clinic's time zone; for a patient seen as a minor, not before
``years`` after their 18th birthday."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from portal import audit, clock
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import Patient, RecordDisposal, RecordRequest, TreatmentSession
from portal.models.base import UTCDateTime
from portal.models.patient import DISPOSED
from portal.treatment.times import clinic_date


def last_visit_at(patient: Patient) -> datetime:
    last = db.session.scalar(
        select(func.max(TreatmentSession.treated_at))
        .where(TreatmentSession.patient_id == patient.id,
               TreatmentSession.status != "cancelled"))
    if last is not None and last.tzinfo is None:  # max() bypasses the column's type
        last = last.replace(tzinfo=UTC)
    return last or patient.discharged_at or patient.created_at


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def retention_ends_on(patient: Patient, years: int | None = None) -> date:
    """The clinic's date from which the record may be disposed of."""
    if years is None:
        years = current_settings().retention_years
    ends = add_years(clinic_date(last_visit_at(patient)), years)
    if patient.date_of_birth is not None:  # a minor's record: years after their 18th birthday
        ends = max(ends, add_years(patient.date_of_birth, 18 + years))
    return ends


# --- the listing (the periodic task) -------------------------------------------------------

LIST_BATCH = 500
# A margin around the cut-off of the SQL pre-filter (time zones, 29 February); the exact
# date is then worked out here for each candidate, with the rule above.
_MARGIN = timedelta(days=2)


def _last_visit():
    """SQL: the patient's last session that was not cancelled, for each patient row (read
    from the index on patient and time, one patient at a time: no pass over every session
    of the clinic per batch)."""
    return (select(func.max(TreatmentSession.treated_at))
            .where(TreatmentSession.patient_id == Patient.id,
                   TreatmentSession.status != "cancelled")
            .correlate(Patient).scalar_subquery())


def _candidates(today: date, years: int, after: int, limit: int):
    """One batch (by patient id, after ``after``) of the patients whose last visit is old
    enough, give or take the margin, and who are neither disposed, on hold nor listed."""
    visit = _last_visit()
    last = func.coalesce(visit, Patient.discharged_at, Patient.created_at)
    cutoff = datetime.combine(add_years(today, -years), time(), tzinfo=UTC) + _MARGIN
    adult_from = add_years(today, -(18 + years)) + _MARGIN
    return db.session.execute(
        select(Patient.id, Patient.created_at, Patient.date_of_birth,
               type_coerce(visit, UTCDateTime()).label("last"),
               Patient.discharged_at, RecordDisposal.id.label("disposal_id"))
        .outerjoin(RecordDisposal, RecordDisposal.patient_id == Patient.id)
        .where(Patient.id > after, Patient.status != DISPOSED, Patient.legal_hold.is_(False),
               or_(RecordDisposal.id.is_(None), RecordDisposal.status == "cancelled"),
               # A request not yet answered keeps the record (portal.rights.disposal).
               ~select(RecordRequest.id).where(RecordRequest.patient_id == Patient.id,
                                               RecordRequest.answered_at.is_(None)).exists(),
               type_coerce(last, UTCDateTime()) < cutoff,
               or_(Patient.date_of_birth.is_(None), Patient.date_of_birth < adult_from))
        .order_by(Patient.id).limit(limit)).all()


def _ends_on(last: datetime, date_of_birth: date | None, years: int) -> date:
    ends = add_years(clinic_date(last), years)
    if date_of_birth is not None:
        ends = max(ends, add_years(date_of_birth, 18 + years))
    return ends


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_due(batch: int = LIST_BATCH) -> int:
    """List for disposal every record whose retention period has ended by the clinic's
    today (SPEC 11.2); how many were listed. Idempotent: a record is listed once (the
    unique patient_id), and one whose listing was cancelled by a legal hold is listed
    again once the hold is lifted. Each batch commits."""
    years = current_settings().retention_years
    today = clinic_date(clock.now())
    listed, after = 0, 0
    while True:
        rows = _candidates(today, years, after, batch)
        if not rows:
            return listed
        after = rows[-1].id
        for row in rows:
            last = _as_utc(row.last or row.discharged_at or row.created_at)
            ends = _ends_on(last, row.date_of_birth, years)
            if ends <= today and _list(row, last, ends):
                listed += 1
        db.session.commit()


def _list(row, last: datetime, ends: date) -> bool:
    patient = db.session.get(Patient, row.id)
    if patient is None:
        return False
    values = {"status": "listed", "registered_at": _as_utc(row.created_at),
              "last_visit_at": last, "retention_ends_on": ends}
    if row.disposal_id is not None:  # cancelled by a hold since lifted: listed again
        done = cast(CursorResult[Any], db.session.execute(
            update(RecordDisposal)
            .where(RecordDisposal.id == row.disposal_id, RecordDisposal.status == "cancelled")
            .values(listed_at=clock.now(), cancelled_at=None, approved_at=None,
                    approved_by_id=None, confirmation=None, **values))).rowcount
        if not done:
            return False
    else:
        try:
            with db.session.begin_nested():
                db.session.add(RecordDisposal(patient_id=patient.id,
                                              patient_public_id=patient.public_id,
                                              listed_at=clock.now(), **values))
        except IntegrityError:  # another worker listed it meanwhile
            return False
    audit.write("record.listed_for_disposal", patient=patient,
                detail={"retention_ended_on": ends.isoformat()})
    return True
