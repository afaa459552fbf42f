"""The demo clinic's retention schedule (SPEC 11.2): three former patients last seen more
than the retention period ago, listed by the periodic task's own service; one left on the
list, one approved by an admin and waiting for a second admin, and one disposed of (its
tombstone). Safe to run again: patients already there are kept."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import Patient, RecordDisposal, User
from portal.rights import disposal, retention

# (name, e-mail, years and days since the last visit, what the demo leaves it at)
FORMER = (
    ("Gérald Tremblay", "gerald.tremblay@example.org", (11, 40), "listed"),
    ("Heather MacLeod", "heather.macleod@example.org", (12, 5), "approved"),
    ("Yves Bouchard", "yves.bouchard@example.org", (13, 90), "disposed"),
)


def _former(practitioner: User, name: str, email: str, ago: timedelta) -> Patient:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None and user.patient is not None:
        return user.patient
    seen = clock.now() - ago
    # No password: a former patient who never used the portal (paper records, imported).
    user = User(email=email, name=name, role="patient", locale="en", created_at=seen,
                email_confirmed_at=seen)
    patient = Patient(user=user, status="discharged", practitioner_id=practitioner.id,
                      created_at=seen - timedelta(days=60), last_activity_at=seen,
                      discharged_at=seen, discharge_reason="completed")
    # Their care is on paper from before the portal: the discharge date is the last visit
    # (portal/rights/retention.py), and no session is recorded here.
    db.session.add_all([user, patient])
    db.session.commit()
    return patient


def seed(admin: User, practitioner: User) -> dict[str, str]:
    """The three records, their disposals handled by ``admin``; the public ids of the
    disposals by what the demo left them at."""
    years = current_settings().retention_years
    patients = {}
    # A record disposed of by an earlier run has no e-mail left to find it by: its tombstone
    # is the demo's.
    done = db.session.scalar(select(RecordDisposal).where(RecordDisposal.status == "disposed")
                             .order_by(RecordDisposal.id).limit(1))
    for name, email, (extra_years, days), state in FORMER:
        if state == "disposed" and done is not None:
            patients[state] = done.patient
            continue
        ago = timedelta(days=365 * (years + extra_years - 10) + days)
        patients[state] = _former(practitioner, name, email, ago)
    retention.list_due()
    made = {}
    for state, patient in patients.items():
        row = db.session.scalar(select(RecordDisposal)
                                .where(RecordDisposal.patient_id == patient.id))
        if row is None:
            continue
        if row.status == "listed" and state == "approved":
            disposal.ask_second_admin(admin, [row])
        elif row.status == "listed" and state == "disposed":
            disposal.approve_typed(admin, [row], 1)
        made[state] = row.public_id
    return made
