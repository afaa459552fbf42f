"""Rating reminders and closing (SPEC 4.2): ``send_reminders()`` (the worker's schedule,
and ``flask send-reminders``) sends each reminder and closes each window exactly once, by
conditional UPDATEs, so several workers may run it at once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, exists, not_, select, update

from portal import clock, mail
from portal.extensions import db
from portal.links import absolute_url
from portal.models import Patient, SessionRating, TreatmentSession, User
from portal.treatment.ratings import overdue_clause
from portal.treatment.times import config_delta

# --- reminders and closing (flask send-reminders) ---------------------------------------

@dataclass
class ReminderReport:
    reminded: int = 0
    closed: int = 0


def send_reminders(limit: int = 1000) -> ReminderReport:
    """Remind patients whose rating is overdue (once per session) and close the windows
    that have ended (once). Each row is claimed by a conditional UPDATE and its e-mail
    queued in the same transaction: running this twice, or in two places at once, sends
    nothing twice."""
    report = ReminderReport()
    now = clock.now()
    due = list(db.session.scalars(
        select(TreatmentSession.id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .join(User, User.id == Patient.user_id)
        .where(overdue_clause(now), TreatmentSession.reminder_sent_at.is_(None),
               User.active.is_(True))
        .order_by(TreatmentSession.rating_opens_at).limit(limit)))
    for session_id in due:
        claimed = cast(CursorResult[Any], db.session.execute(
            update(TreatmentSession)
            .where(TreatmentSession.id == session_id,
                   TreatmentSession.reminder_sent_at.is_(None), overdue_clause(now))
            .values(reminder_sent_at=now)
            .execution_options(synchronize_session=False)))
        if claimed.rowcount != 1:
            db.session.rollback()
            continue
        session = db.session.get(TreatmentSession, session_id)
        assert session is not None  # claimed above, in this transaction
        user = session.patient.user
        mail.queue("rating_reminder", user.email, user.locale, name=user.name,
                   link=absolute_url("treatment.rate", session_id=session.public_id))
        db.session.commit()
        report.reminded += 1
    rated = exists().where(SessionRating.session_id == TreatmentSession.id)
    closed = cast(CursorResult[Any], db.session.execute(
        update(TreatmentSession)
        .where(TreatmentSession.status == "recorded",
               TreatmentSession.rating_closed_at.is_(None),
               # RATING_WINDOW after the session (SPEC 4.2), not after the rating opened.
               TreatmentSession.treated_at <= now - config_delta("RATING_WINDOW"),
               not_(rated))
        .values(rating_closed_at=now)
        .execution_options(synchronize_session=False)))
    report.closed = closed.rowcount or 0
    db.session.commit()
    return report
