"""Follow-ups after discharge as the chart and the patient's progress page show them
(SPEC 12.1): the rows are scheduled, sent and answered by portal/followups; here they are
only read and put in words.

What a follow-up says (portal/models/followup.py): the average pain over the past 24 hours
(IMMPACT's core outcome, Dworkin et al., Pain 2005; CLINICAL.md "What the follow-up score
asks"), the change since starting treatment (PGIC, Farrar et al., Pain 2001) and the PSFS
mean (Stratford et al., Physiotherapy Canada 1995). "Improvement kept" is the portal's
improvement rule (portal.outcomes: at least 2 points and at least 30% below the baseline)
applied to the follow-up's pain, stored on the row as ``kept``.

A follow-up still unanswered ``OVERDUE_AFTER`` after it was e-mailed is overdue: the e-mail
and its one reminder (a week after it, portal/followups) have had their time, and a call may
help while its link still works (the worklist lists it, the chart says so). Counted from the
e-mail, not the due date: one sent late (the worker was stopped) is not overdue at once. Once
the link has expired it is simply unanswered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import FollowUp, Patient
from portal.treatment.forms import pgic_labels

OVERDUE_AFTER = timedelta(days=14)
# The worklist lists follow-ups answered this recently.
RECENT = timedelta(days=14)


def overdue_before(now: datetime) -> datetime:
    """Follow-ups e-mailed before this, and still unanswered, are overdue."""
    return now - OVERDUE_AFTER


def state(follow_up: FollowUp, now: datetime) -> str:
    """kept, not_kept, improved, not_improved, answered (no baseline), overdue, sent,
    unanswered (its link expired), scheduled, declined or cancelled."""
    if follow_up.status == "answered":
        if follow_up.kept is None:
            return "answered"
        if follow_up.improved_at_discharge:
            return "kept" if follow_up.kept else "not_kept"
        return "improved" if follow_up.kept else "not_improved"
    if follow_up.status == "sent":
        expires = follow_up.token_expires_at
        if expires is not None and expires <= now:
            return "unanswered"
        if follow_up.sent_at is not None and follow_up.sent_at <= overdue_before(now):
            return "overdue"
    return follow_up.status


def state_label(code: str) -> str:
    return {"kept": _("Improvement kept"),
            "not_kept": _("Improvement not kept"),
            "improved": _("Meaningful improvement at follow-up (not at discharge)"),
            "not_improved": _("No meaningful improvement"),
            "answered": _("Answered (no starting pain level)"),
            "overdue": _("Overdue"),
            "sent": _("Sent, waiting for the answer"),
            "unanswered": _("Not answered (the link has expired)"),
            "scheduled": _("Scheduled"),
            "declined": _("Follow-ups declined"),
            "cancelled": _("Follow-up cancelled")}[code]


def state_tone(code: str) -> str:
    return {"kept": "ok", "improved": "ok", "not_kept": "danger", "overdue": "warn"}.get(
        code, "neutral")


def pgic_label(value: int | None) -> str | None:
    return None if value is None else str(dict(pgic_labels())[value])


@dataclass(frozen=True)
class Line:
    """One follow-up as the chart draws it."""
    row: FollowUp
    state: str

    @property
    def label(self) -> str:
        return state_label(self.state)

    @property
    def tone(self) -> str:
        return state_tone(self.state)

    @property
    def pgic_label(self) -> str | None:
        return pgic_label(self.row.pgic)

    @property
    def title(self) -> str:
        return weeks_after(self.row.weeks)


def weeks_after(weeks: int) -> str:
    return ngettext("%(num)d week after discharge", "%(num)d weeks after discharge", weeks)


def for_chart(patient: Patient) -> list[Line]:
    """Every follow-up of the patient, discharge by discharge, in the order they fall due."""
    now = clock.now()
    rows = db.session.scalars(select(FollowUp).where(FollowUp.patient_id == patient.id)
                              .order_by(FollowUp.due_at, FollowUp.id))
    return [Line(row, state(row, now)) for row in rows]


def answered(patient: Patient) -> list[FollowUp]:
    """The patient's answered follow-ups, oldest first (their progress page)."""
    return list(db.session.scalars(
        select(FollowUp).where(FollowUp.patient_id == patient.id,
                               FollowUp.status == "answered")
        .order_by(FollowUp.answered_at, FollowUp.id)))


def plain_sentence(follow_up: FollowUp) -> str:
    """For the patient: "6 weeks after discharge: average pain 3 out of 10 (it was 7 at the
    start)."."""
    when = weeks_after(follow_up.weeks)
    if follow_up.baseline is None:
        return _("%(when)s: average pain %(pain)d out of 10.", when=when,
                 pain=follow_up.pain_average)
    return _("%(when)s: average pain %(pain)d out of 10 (it was %(baseline)d at the start).",
             when=when, pain=follow_up.pain_average, baseline=follow_up.baseline)
