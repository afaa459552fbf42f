"""The demo clinic's patients' rights and follow-ups after discharge (SPEC 9, 11, 12): one
access request and two correction requests (portal/demo/requests.py), one privacy incident
(incidents.py), a withdrawal of consent waiting for Dr. Lee (withdrawals.py), two former
patients' follow-ups (the 6-week one answered, followups.py; one sent and overdue,
followups_overdue.py) and three old records past their retention period (retention.py).
Runs after the treatment demo; running it again changes nothing."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import Date, select, update

from portal.demo import followups, followups_overdue, incidents, requests, retention, withdrawals
from portal.demo import treatment as treatment_demo
from portal.extensions import db
from portal.models import FollowUp, Patient, User
from portal.models.base import UTCDateTime

REQUESTS_PATIENT = "patient03@example.com"


def seed(admin: User, practitioners: list[User]) -> None:
    lee = practitioners[0]
    _follow_ups(lee)
    withdrawals.seed(lee)
    patient_user = db.session.scalar(select(User).where(User.email == REQUESTS_PATIENT))
    if patient_user is not None and patient_user.patient is not None:
        requests.seed(admin, lee, patient_user)
        incidents.seed(admin, patient_user.patient)
    else:
        incidents.seed(admin)
    retention.seed(admin, lee)
    db.session.commit()


def _follow_ups(practitioner: User) -> None:
    """Two of the practitioner's patients, treated and discharged as completed: one with its
    6-week follow-up answered, one with it sent, reminded and overdue."""
    answered, overdue = _has(practitioner, "answered"), _has(practitioner, "sent")
    if answered and overdue:
        return
    # Two patients who sent their intake and are not treated yet, given to the practitioner
    # (the named demo's treated patients each have a story of their own on the worklist):
    # an improving course discharged seven weeks ago, the 6-week follow-up answered; a flat
    # one discharged eight weeks ago, the 6-week follow-up overdue.
    waiting = [patient for patient in treatment_demo.candidates(limit=100)
               if patient.status == "intake_submitted"
               and patient.practitioner_id != practitioner.id]
    rng = random.Random(16)
    for story, trajectory, ago, seed_story in (
            (answered, "improving", followups.DISCHARGED_AGO, followups.seed),
            (overdue, "flat", followups_overdue.DISCHARGED_AGO, followups_overdue.seed)):
        if story or not waiting:
            continue
        patient = waiting.pop(0)
        patient.practitioner_id = practitioner.id
        treatment_demo.treat(patient, practitioner, rng, trajectory)
        _back_in_time(patient, ago + timedelta(days=1))
        db.session.expire_all()
        seed_story(patient, practitioner)


# Columns that say when something happened to the patient; not their date of birth, and not
# the audit trail (append-only: it says when the demo wrote each row).
NOT_SHIFTED = {("patients", "date_of_birth")}
SKIPPED_TABLES = {"audit_events"}


def _back_in_time(patient: Patient, ago: timedelta) -> None:
    """Move the patient's whole story back by ``ago``, so that a course that ended days ago
    ended before a discharge ``ago`` back: every date and time of every row of theirs."""
    db.session.flush()
    for table in db.metadata.sorted_tables:
        if table.name in SKIPPED_TABLES:
            continue
        key = (table.c.id == patient.id if table.name == "patients"
               else table.c.id == patient.user_id if table.name == "users"
               else table.c.patient_id == patient.id if "patient_id" in table.c else None)
        if key is None:
            continue
        moved = [column.name for column in table.c
                 if isinstance(column.type, UTCDateTime | Date)
                 and (table.name, column.name) not in NOT_SHIFTED]
        if moved:
            rows = db.session.execute(select(table.c.id, *(table.c[n] for n in moved))
                                      .where(key)).all()
            for row in rows:
                values = {n: getattr(row, n) - ago for n in moved
                          if getattr(row, n) is not None}
                if values:
                    db.session.execute(update(table).where(table.c.id == row.id)
                                       .values(**values))
    db.session.expire_all()


def _has(practitioner: User, status: str) -> bool:
    """The practitioner has a patient with a follow-up at ``status`` (the demo ran)."""
    return db.session.scalar(
        select(FollowUp.id).join(Patient, Patient.id == FollowUp.patient_id)
        .where(Patient.practitioner_id == practitioner.id, FollowUp.status == status)
        .limit(1)) is not None
