"""The demo clinic's patients' rights and follow-ups after discharge (SPEC 9, 11, 12): one
access request and two correction requests (portal/demo/requests.py), one privacy incident
(incidents.py), a withdrawal of consent waiting for Dr. Lee (withdrawals.py), two former
patients' follow-ups (the 6-week one answered, followups.py; one sent and overdue,
followups_overdue.py) and three old records past their retention period (retention.py).
Runs after the treatment demo; running it again changes nothing."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.demo import followups, followups_overdue, incidents, requests, retention, withdrawals
from portal.demo import treatment as treatment_demo
from portal.extensions import db
from portal.models import FollowUp, Patient, SessionRating, TreatmentOutcome, User

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
    """Two of the practitioner's treated patients, discharged as completed: one with its
    6-week follow-up answered, one with it sent, reminded and overdue."""
    answered, overdue = _has(practitioner, "answered"), _has(practitioner, "sent")
    if answered and overdue:
        return
    # Courses that neither improved nor worsened, longest first: the improving and worsening
    # ones stay in treatment for the worklist's sections of their own.
    treated = sorted(
        (patient for index, patient in enumerate(treatment_demo.candidates())
         if patient.practitioner_id == practitioner.id
         and patient.status == "in_treatment"
         and index not in (treatment_demo.ACKNOWLEDGED_SAFETY, treatment_demo.WAITING_SAFETY)
         and _outcome(patient) == "unchanged"),
        key=lambda patient: -_rated(patient))
    if treated and not answered:
        followups.seed(treated.pop(0), practitioner)
    if treated and not overdue:
        followups_overdue.seed(treated[0], practitioner)


def _has(practitioner: User, status: str) -> bool:
    """The practitioner has a patient with a follow-up at ``status`` (the demo ran)."""
    return db.session.scalar(
        select(FollowUp.id).join(Patient, Patient.id == FollowUp.patient_id)
        .where(Patient.practitioner_id == practitioner.id, FollowUp.status == status)
        .limit(1)) is not None


def _rated(patient: Patient) -> int:
    return db.session.scalar(select(func.count(SessionRating.id))
                             .where(SessionRating.patient_id == patient.id)) or 0


def _outcome(patient: Patient) -> str | None:
    return db.session.scalar(select(TreatmentOutcome.status)
                             .where(TreatmentOutcome.patient_id == patient.id))
