"""When a record's retention period ends (SPEC 11.2).

Records are kept ``ClinicSettings.retention_years`` (default 10) after the last visit: the
College of Physiotherapists of Ontario's Record Keeping Standard asks for at least 10 years
after the last interaction (or 10 years after the patient's 18th birthday, if later); other
provinces differ, hence the setting. The last interaction is the latest of: the last
treatment session that was not cancelled, the last follow-up answered, the last discharge,
the record's last activity (an intake saved or submitted, a document, a consent, a
re-admission: ``Patient.last_activity_at``) and the day the record was opened. A patient in
care (``IN_CARE``) is never due, however long ago they were last seen: the clinic
discharges them first. The period ends on the same calendar day ``years`` later (28
February for a 29 February), in the clinic's time zone; for a patient seen as a minor, not
before ``years`` after their 18th birthday. The listing and the disposal apply this same
rule (``is_due``), each under the patient's lock (``lock_patient``)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select, type_coerce, update

from portal import audit, clock
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import FollowUp, Patient, RecordDisposal, RecordRequest, TreatmentSession
from portal.models.base import UTCDateTime
from portal.models.patient import DISPOSED
from portal.treatment.times import clinic_date, take_write_lock

# Statuses of a patient whose care is under way: an intake to review, a clearance accepted,
# a course of treatment. Only a record at rest (invited, intake never finished, discharged)
# reaches the end of its retention period.
IN_CARE = ("intake_submitted", "cleared", "in_treatment")


def _last_session(patient_id: ColumnElement[int] | int):
    """SQL: the patient's last session that was not cancelled (read from the index on
    patient and time, one patient at a time)."""
    return type_coerce(select(func.max(TreatmentSession.treated_at))
                       .where(TreatmentSession.patient_id == patient_id,
                              TreatmentSession.status != "cancelled")
                       .scalar_subquery(), UTCDateTime())


def _last_answer(patient_id: ColumnElement[int] | int):
    """SQL: when the patient last answered a follow-up (SPEC 12.1)."""
    return type_coerce(select(func.max(FollowUp.answered_at))
                       .where(FollowUp.patient_id == patient_id)
                       .scalar_subquery(), UTCDateTime())


def last_visit_at(patient: Patient) -> datetime:
    """The patient's last interaction with the clinic (the module's rule)."""
    session, answer = db.session.execute(
        select(_last_session(patient.id), _last_answer(patient.id))).one()
    return max(moment for moment in (session, answer, patient.discharged_at,
                                     patient.last_activity_at, patient.created_at)
               if moment is not None)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def retention_ends_on(patient: Patient, years: int | None = None,
                      last: datetime | None = None) -> date:
    """The clinic's date from which the record may be disposed of (``last``: the patient's
    last visit, when the caller has it already)."""
    if years is None:
        years = current_settings().retention_years
    ends = add_years(clinic_date(last or last_visit_at(patient)), years)
    if patient.date_of_birth is not None:  # a minor's record: years after their 18th birthday
        ends = max(ends, add_years(patient.date_of_birth, 18 + years))
    return ends


def due(patient: Patient, today: date,
        years: int | None = None) -> tuple[datetime, date] | None:
    """The record's last visit and the end of its retention period, when it may be disposed
    of on the clinic's ``today``: not disposed of already, not in care, not under a legal
    hold, its period ended. None otherwise."""
    if patient.status == DISPOSED or patient.status in IN_CARE or patient.legal_hold:
        return None
    last = last_visit_at(patient)
    ends = retention_ends_on(patient, years, last)
    return (last, ends) if ends <= today else None


def has_open_request(patient_id: int) -> bool:
    """An access or correction request not yet answered: the record is kept until it is
    (PHIPA s. 13(2): information that is the subject of a request is retained as long as
    needed for the individual to exhaust any recourse)."""
    return db.session.scalar(select(RecordRequest.id).where(
        RecordRequest.patient_id == patient_id,
        RecordRequest.answered_at.is_(None)).limit(1)) is not None


def lock_patient(patient_id: int) -> Patient | None:
    """The patient row, locked until the transaction ends, and read again (SQLite: the
    write lock of the whole database)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    else:
        take_write_lock()
    patient = db.session.get(Patient, patient_id)
    if patient is not None:
        db.session.refresh(patient)
    return patient


# --- the listing (the periodic task) -------------------------------------------------------

LIST_BATCH = 500
# A margin around the cut-off of the SQL pre-filter (time zones, 29 February); whether a
# candidate is due is then decided by ``due``, under the patient's lock.
_MARGIN = timedelta(days=2)


def _candidates(today: date, years: int, after: int, limit: int) -> list[int]:
    """One batch (by patient id, after ``after``) of the patients whose every interaction
    is old enough, give or take the margin, and who are neither disposed, in care, on hold
    nor listed."""
    cutoff = datetime.combine(add_years(today, -years), time(), tzinfo=UTC) + _MARGIN
    adult_from = add_years(today, -(18 + years)) + _MARGIN
    return list(db.session.scalars(
        select(Patient.id)
        .outerjoin(RecordDisposal, RecordDisposal.patient_id == Patient.id)
        .where(Patient.id > after, Patient.status != DISPOSED, Patient.status.not_in(IN_CARE),
               Patient.legal_hold.is_(False),
               or_(RecordDisposal.id.is_(None), RecordDisposal.status == "cancelled"),
               # A request not yet answered keeps the record (has_open_request).
               ~select(RecordRequest.id).where(RecordRequest.patient_id == Patient.id,
                                               RecordRequest.answered_at.is_(None)).exists(),
               Patient.created_at < cutoff, Patient.last_activity_at < cutoff,
               or_(Patient.discharged_at.is_(None), Patient.discharged_at < cutoff),
               ~select(TreatmentSession.id).where(TreatmentSession.patient_id == Patient.id,
                                                  TreatmentSession.status != "cancelled",
                                                  TreatmentSession.treated_at >= cutoff).exists(),
               ~select(FollowUp.id).where(FollowUp.patient_id == Patient.id,
                                          FollowUp.answered_at >= cutoff).exists(),
               or_(Patient.date_of_birth.is_(None), Patient.date_of_birth < adult_from))
        .order_by(Patient.id).limit(limit)))


def list_due(batch: int = LIST_BATCH) -> int:
    """List for disposal every record whose retention period has ended by the clinic's
    today (SPEC 11.2); how many were listed. Idempotent: a record is listed once (the
    unique patient_id), and one whose listing was cancelled by a legal hold is listed
    again once the hold is lifted. Each record is listed in its own transaction, under its
    patient's lock, so that a hold placed or a visit recorded meanwhile keeps it off."""
    years = current_settings().retention_years
    today = clinic_date(clock.now())
    listed, after = 0, 0
    while True:
        ids = _candidates(today, years, after, batch)
        db.session.commit()
        if not ids:
            return listed
        after = ids[-1]
        for patient_id in ids:
            if _list(patient_id, today, years):
                listed += 1


def _list(patient_id: int, today: date, years: int) -> bool:
    patient = lock_patient(patient_id)
    found = due(patient, today, years) if patient is not None else None
    if patient is None or found is None or has_open_request(patient.id):
        db.session.rollback()
        return False
    last, ends = found
    existing = db.session.scalar(select(RecordDisposal)
                                 .where(RecordDisposal.patient_id == patient.id))
    values = {"status": "listed", "listed_at": clock.now(), "registered_at": patient.created_at,
              "last_visit_at": last, "retention_ends_on": ends}
    if existing is None:
        db.session.add(RecordDisposal(patient_id=patient.id,
                                      patient_public_id=patient.public_id, **values))
    elif existing.status == "cancelled":  # cancelled by a hold since lifted: listed again
        db.session.execute(
            update(RecordDisposal).where(RecordDisposal.id == existing.id)
            .values(cancelled_at=None, approved_at=None, approved_by_id=None,
                    confirmation=None, **values))
    else:  # listed by another worker meanwhile
        db.session.rollback()
        return False
    audit.write("record.listed_for_disposal", patient=patient,
                detail={"retention_ended_on": ends.isoformat()})
    db.session.commit()
    return True
