"""A discharged demo patient with follow-ups (SPEC 12.1): discharged seven weeks ago, the
6-week follow-up e-mailed and answered two days later (the improvement kept or not, by the
portal's rule), the 12-week one still scheduled.

The discharge and the scheduling go through the services (so the audit log and the columns
are what the portal writes), then are dated back to where they belong in the course."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from portal import audit, clock, outcomes
from portal.extensions import db
from portal.followups import services as followups
from portal.models import FollowUp, Patient, TreatmentOutcome, User
from portal.treatment import intake_link

DISCHARGED_AGO = timedelta(weeks=7)
ANSWERED_AFTER = timedelta(days=2)


def seed(patient: Patient, practitioner: User,
         discharged_ago: timedelta = DISCHARGED_AGO) -> list[FollowUp]:
    """Discharge ``patient`` (treatment completed) ``discharged_ago`` before now with the
    clinic's follow-ups; answer those already due as the patient would have. Commits;
    returns the follow-ups, earliest first."""
    discharged_at = clock.now() - discharged_ago
    patient.status = "discharged"
    patient.discharged_at = discharged_at
    patient.discharge_reason = "completed"
    audit.write("patient.discharged", patient=patient, actor=practitioner,
                detail={"reason": "completed", "from": "in_treatment"})
    made = followups.schedule(patient, practitioner, discharged_at, "completed",
                              followups.configured_weeks())
    db.session.flush()
    for follow_up in made:
        if follow_up.due_at <= clock.now() - ANSWERED_AFTER:
            _answered(patient, follow_up)
    db.session.commit()
    return made


def _answered(patient: Patient, follow_up: FollowUp) -> None:
    """Sent on its day, answered two days later: the pain where treatment left it (one
    point up from the last rating, as often happens), the activities a little better than
    at intake."""
    outcome = db.session.scalar(select(TreatmentOutcome)
                                .where(TreatmentOutcome.patient_id == patient.id))
    last = outcome.latest_nprs if outcome is not None else None
    pain = min(10, (last if last is not None else (follow_up.baseline or 5)) + 1)
    activities = intake_link.psfs_baseline(patient)
    scores = [min(10, score + 3) for _name, score in activities]
    psfs = [{"activity": name, "score": s} for (name, _), s in zip(activities, scores, strict=True)]
    token = followups.link_token(follow_up)
    follow_up.status = "answered"
    follow_up.sent_at = follow_up.due_at
    follow_up.token_hash = hashlib.sha256(token.encode()).hexdigest()
    follow_up.token_expires_at = follow_up.due_at + followups.LINK_VALID_FOR
    follow_up.answered_at = follow_up.due_at + ANSWERED_AFTER
    follow_up.pain_average = pain
    follow_up.pgic = 2
    follow_up.psfs = psfs or None
    follow_up.psfs_mean = outcomes.mean(scores) if psfs else None
    follow_up.kept = followups.kept(follow_up.baseline, pain)
