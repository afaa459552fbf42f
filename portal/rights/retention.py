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

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import Patient, TreatmentSession
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
