"""A discharged demo patient whose follow-up is overdue (SPEC 12.1, 5.1): discharged eight
weeks and two days ago, the 6-week follow-up e-mailed on its day and reminded a week later,
still unanswered sixteen days after it fell due (two weeks make it overdue on the worklist,
while its four-week link still works); the 12-week one still scheduled.

The discharge and the scheduling go through the services, as portal/demo/followups.py does,
then the sending is dated back to where it belongs."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from portal import audit, clock
from portal.extensions import db
from portal.followups import services as followups
from portal.models import FollowUp, Patient, User

DISCHARGED_AGO = timedelta(weeks=8, days=2)


def seed(patient: Patient, practitioner: User,
         discharged_ago: timedelta = DISCHARGED_AGO) -> list[FollowUp]:
    """Discharge ``patient`` (treatment completed) ``discharged_ago`` before now with the
    clinic's follow-ups; those already due were sent and reminded, never answered. Commits;
    returns the follow-ups, earliest first."""
    now = clock.now()
    discharged_at = now - discharged_ago
    patient.status = "discharged"
    patient.discharged_at = discharged_at
    patient.discharge_reason = "completed"
    audit.write("patient.discharged", patient=patient, actor=practitioner,
                detail={"reason": "completed", "from": "in_treatment"})
    made = followups.schedule(patient, practitioner, discharged_at, "completed",
                              followups.configured_weeks())
    db.session.flush()
    for follow_up in made:
        if follow_up.due_at <= now:
            token = followups.link_token(follow_up)
            follow_up.status = "sent"
            follow_up.sent_at = follow_up.due_at
            follow_up.token_hash = hashlib.sha256(token.encode()).hexdigest()
            follow_up.token_expires_at = follow_up.due_at + followups.LINK_VALID_FOR
            if follow_up.due_at + followups.REMINDER_AFTER <= now:
                follow_up.reminded_at = follow_up.due_at + followups.REMINDER_AFTER
    db.session.commit()
    return made
