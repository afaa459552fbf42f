"""The demo clinic's requests register (SPEC 11.2): an access request received by letter and
answered, a correction request answered (the record corrected, with a note) and one still
open, due in a few weeks. Made through the same services as the portal's own requests (each
audited). Safe to run again: requests already there are kept."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import RecordRequest, User
from portal.rights import correcting
from portal.rights import requests as register
from portal.rights.dates import due_at_for
from portal.treatment.times import clinic_date

ANSWERED_CORRECTION = ("My family doctor is Dr. Ada Wong at the Main Street Clinic, not the "
                       "walk-in clinic I named.")
OPEN_CORRECTION = ("I wrote that the pain started 1 to 5 years ago; it started about 8 months "
                   "ago, after a fall.")
ACCESS = "Asked by letter for a copy of the whole record, for an insurance claim."


@dataclass
class DemoRequests:
    access: RecordRequest
    answered: RecordRequest
    open: RecordRequest


def _existing(patient_id: int, detail: str) -> RecordRequest | None:
    return db.session.scalar(select(RecordRequest).where(
        RecordRequest.patient_id == patient_id, RecordRequest.detail == detail))


def seed(admin: User, practitioner: User, patient_user: User,
         other_patient_user: User | None = None) -> DemoRequests:
    """``admin`` enters an access request of ``other_patient_user`` (``patient_user`` when
    not given) received by mail 12 days ago and marks it answered 4 days ago;
    ``patient_user`` asks for two corrections, one 20 days ago that ``practitioner`` answered,
    one 3 days ago still open."""
    patient = patient_user.patient
    other = (other_patient_user or patient_user).patient
    assert patient is not None and other is not None
    now = clock.now()

    access = _existing(other.id, ACCESS)
    if access is None:
        access = register.enter_request(admin, other, "access",
                                        clinic_date(now - timedelta(days=12)), ACCESS)
        register.mark_provided(admin, access, clinic_date(now - timedelta(days=4)))

    answered = _existing(patient.id, ANSWERED_CORRECTION)
    if answered is None:
        answered = correcting.request_correction(patient, patient_user, None,
                                                 ANSWERED_CORRECTION)
        _backdate(answered, days=20)
        correcting.accept(answered, practitioner,
                          "Your family doctor is corrected in your record: Dr. Ada Wong, "
                          "Main Street Clinic.")

    opened = _existing(patient.id, OPEN_CORRECTION)
    if opened is None:
        subject = "onset" if "onset" in dict(correcting.question_choices(patient, "en")) \
            else None
        opened = correcting.request_correction(patient, patient_user, subject,
                                               OPEN_CORRECTION)
        _backdate(opened, days=3)
    return DemoRequests(access, answered, opened)


def _backdate(req: RecordRequest, days: int) -> None:
    """As if it had come ``days`` ago: received and due dates moved together."""
    req.received_at = req.received_at - timedelta(days=days)
    req.due_at = due_at_for(req.received_at)
    db.session.commit()
