"""Acknowledging the worklist's red flags (SPEC 5.1), for its views: a safety report after
a session (portal/treatment/safety.py) or an intake with red flags, whose review with a note
is its acknowledgement (portal/intake/staff.py). Either is done once, with a note; whoever
comes second is told who did it and when, and nothing changes."""
from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user

from portal.formats import format_datetime
from portal.intake import services as intake
from portal.models import IntakeResponse, SafetyReport, User
from portal.security import patient_for
from portal.treatment import safety
from portal.treatment.safety_forms import AcknowledgeForm


class NoteNeeded(Exception):
    pass


class AlreadyDone(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def ack_form(public_id: str, formdata=True) -> AcknowledgeForm:
    """One form per red flag on the page: its id prefixes the fields ("ack-<id>-note"; the
    dash given, as WTForms adds none after an id that ends with one)."""
    kwargs = {} if formdata else {"formdata": None}
    return AcknowledgeForm(prefix=f"ack-{public_id}-", **kwargs)


def note_error() -> str:
    return _("Write a note of at least %(min)d characters (at most %(max)d): what you did, "
             "or will do.", min=safety.NOTE_MIN, max=safety.NOTE_MAX)


def _done_by(who: User | None, when) -> str:
    return _("Already acknowledged by %(name)s at %(when)s. Nothing was changed.",
             name=who.name if who else "?", when=format_datetime(when, "short"))


def safety_report(public_id: str) -> SafetyReport:
    """The red flag, if the signed-in member of staff may see its patient; else 404."""
    report = safety.report_by_public_id(public_id)
    if report is None or not report.alert:
        abort(404)
    patient_for(current_user, report.patient.public_id)
    return report


def acknowledge_safety(report: SafetyReport, practitioner: User, note: str | None) -> None:
    try:
        safety.acknowledge(report, practitioner, note)
    except safety.SafetyError as exc:
        if exc.code == "note":
            raise NoteNeeded() from exc
        raise AlreadyDone(_done_by(report.acknowledged_by, report.acknowledged_at)) from exc


def flagged_intake(patient_id: str) -> IntakeResponse:
    patient = patient_for(current_user, patient_id)
    response = intake.submitted_response(patient)
    if response is None or not response.has_red_flags:
        abort(404)
    return response


def review_intake(response: IntakeResponse, practitioner: User, note: str | None) -> None:
    if response.reviewed_at is not None:
        raise AlreadyDone(_done_by(response.reviewed_by, response.reviewed_at))
    try:
        reviewed = intake.mark_reviewed(response, practitioner, note)
    except intake.ReviewNoteNeeded as exc:
        raise NoteNeeded() from exc
    if not reviewed:
        refreshed = intake.submitted_response(response.patient)
        assert refreshed is not None
        raise AlreadyDone(_done_by(refreshed.reviewed_by, refreshed.reviewed_at))
