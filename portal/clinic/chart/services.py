"""What the patient chart shows (SPEC 5.3), and the status changes made from it.

The chart reads what the other features already compute: the intake's effective answers,
scores and flags (portal.intake.services), clearance and consent (the treatment gate, which
asks portal.documents.services.is_cleared and the intake's has_current_consent), and the
outcome (portal.treatment.services.progress, which asks portal.outcomes). Nothing here
compares a score to a threshold.

Discharge sets ``Patient.status`` to "discharged", with when and why (coded); re-admitting
clears those and works the status out again
from the record, the same way the features set it as the patient moves along: invited until
the invitation is accepted, intake in progress until it is sent, then intake submitted,
cleared while a clearance is valid (documents.sync_status), in treatment once a session is
recorded (treatment.record_session).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, cast

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.orm import aliased

from portal import audit, clock
from portal.audit import AuditPage, AuditRow
from portal.clinic.chart.forms import discharge_reason_labels
from portal.clinic.patients.services import STATUS_LABELS
from portal.documents import services as documents
from portal.extensions import db
from portal.followups import services as followups
from portal.intake import alerts as intake_alerts
from portal.intake import consent as consents
from portal.intake import services as intake
from portal.intake.definitions import Question, Questionnaire
from portal.models import (
    DISCHARGE_REASONS,
    AuditEvent,
    ConsentSignature,
    IntakeResponse,
    Patient,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.rights import retention, withdrawal
from portal.treatment import display, sessions
from portal.treatment import services as treatment

ACTIVITY_PAGE_SIZE = 25


class ChartError(Exception):
    """A refusal to show to the user; ``code`` picks the message (chart.error_text)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- the header ---------------------------------------------------------------------------

def _question_by_autocomplete(definition: Questionnaire, token: str) -> Question | None:
    """The question whose answer is the patient's own ``token`` (the HTML autocomplete
    tokens "bday", "tel"): found in the definition, so a new version needs no change."""
    return next((q for q in definition.questions.values() if q.autocomplete == token), None)


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass
class Contact:
    """What the submitted intake says about how to reach the patient, and their age."""
    born: date | None = None
    age: int | None = None
    phone: str | None = None


def contact(response: IntakeResponse | None) -> Contact:
    if response is None or not response.submitted:
        return Contact()
    definition = intake.definition_for(response)
    answers = intake.effective_answers(response)
    found = Contact()
    dob = _question_by_autocomplete(definition, "bday")
    if dob is not None and isinstance(answers.get(dob.id), str):
        try:
            found.born = date.fromisoformat(answers[dob.id])
        except ValueError:
            found.born = None
        if found.born is not None:
            found.age = age_on(found.born, intake.today())
    tel = _question_by_autocomplete(definition, "tel")
    if tel is not None and answers.get(tel.id):
        found.phone = str(answers[tel.id])
    return found


@dataclass
class Header:
    patient: Patient
    response: IntakeResponse | None
    contact: Contact
    gate: treatment.Gate
    outcome: TreatmentOutcome | None
    # Both parts of consent as they stand now (signed, discussed, withdrawn).
    consent: consents.State
    # Withdrawals of consent no practitioner has acknowledged (SPEC 11.1), oldest first.
    withdrawals: list[ConsentSignature] = field(default_factory=list)
    # A closed account: until when the record is kept (SPEC 11.1).
    kept_until: date | None = None

    @cached_property
    def alerts(self) -> intake_alerts.Alerts:
        """Red flags and precautions, read when the header is drawn (in its language)."""
        return intake_alerts.for_response(self.response)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.patient.status, self.patient.status))

    @property
    def invitation_pending(self) -> bool:
        return not self.patient.user.has_password

    @property
    def discharged(self) -> bool:
        return self.patient.status == "discharged"

    @property
    def discharge_reason_label(self) -> str | None:
        reason = self.patient.discharge_reason
        return str(discharge_reason_labels()[reason]) if reason else None

    @property
    def submitted(self) -> bool:
        return self.response is not None and self.response.submitted

    @property
    def outcome_label(self) -> str | None:
        return display.status_label(self.outcome.status) if self.outcome else None

    @property
    def outcome_kind(self) -> str:
        return display.status_badge_kind(self.outcome.status) if self.outcome else "neutral"


def header(patient: Patient) -> Header:
    """The chart's header, the same on every tab: a handful of queries, whatever the
    record holds."""
    response = intake.response_for(patient)
    outcome = db.session.scalar(select(TreatmentOutcome)
                                .where(TreatmentOutcome.patient_id == patient.id))
    return Header(patient=patient, response=response, contact=contact(response),
                  gate=treatment.gate(patient), outcome=outcome,
                  consent=consents.state(patient), withdrawals=withdrawal.unseen(patient),
                  kept_until=retention.retention_ends_on(patient)
                  if patient.account_closed_at else None)


# --- the summary tab ----------------------------------------------------------------------

@dataclass
class Summary:
    progress: treatment.Progress
    session_count: int
    cancelled_count: int
    scores: dict[str, Any] = field(default_factory=dict)
    body_map: Question | None = None
    pain_map: dict[str, int] = field(default_factory=dict)


def summary(patient: Patient) -> Summary:
    """Baseline against latest, as the sessions page and /me/progress compute it
    (treatment.progress), with the intake's scores and body map."""
    sessions = treatment.sessions_for(patient)
    counted = treatment.numbers(sessions)
    found = Summary(progress=treatment.progress(patient, sessions), session_count=len(counted),
                    cancelled_count=len(sessions) - len(counted))
    response = intake.submitted_response(patient)
    if response is not None:
        definition = intake.definition_for(response)
        found.scores = intake.effective_scores(response)
        found.body_map = next((q for q in definition.questions.values()
                               if q.type == "body_map"), None)
        if found.body_map is not None:
            marks = intake.effective_answers(response).get(found.body_map.id)
            found.pain_map = marks if isinstance(marks, dict) else {}
    return found


# --- views of the record (SPEC 7.1) -------------------------------------------------------

def record_view(viewer: User, patient: Patient, action: str) -> None:
    """One audit event per view of a chart tab. The summary also brings the stored outcome
    up to date (an intake amendment may have moved the baseline since the last rating), as
    the sessions page does, so that header and summary agree."""
    audit.write(action, patient=patient, actor=viewer)
    if action == "chart.viewed" and db.session.scalar(
            select(exists().where(TreatmentSession.patient_id == patient.id))):
        treatment.refresh_outcome(patient)
    db.session.commit()


# --- the activity tab ---------------------------------------------------------------------

def activity(patient: Patient, before: int | None = None,
             per_page: int = ACTIVITY_PAGE_SIZE) -> AuditPage:
    """The patient's audit events, newest first, keyset-paginated on id (``before``: the
    id to continue below). One statement per page, whatever the log holds."""
    actor = aliased(User, name="actor")
    stmt = (select(AuditEvent.id, AuditEvent.created_at, AuditEvent.actor_email,
                   actor.name.label("actor_name"), AuditEvent.action, AuditEvent.subject,
                   AuditEvent.ip, AuditEvent.detail)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .where(AuditEvent.patient_id == patient.id))
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    stmt = stmt.order_by(AuditEvent.id.desc()).limit(per_page + 1)
    rows = [AuditRow(patient_public_id=patient.public_id, patient_name=patient.user.name,
                     **row._asdict()) for row in db.session.execute(stmt)]
    more = len(rows) > per_page
    rows = rows[:per_page]
    return AuditPage(rows, older=rows[-1].id if rows and more else None,
                     newer=rows[0].id if rows and before is not None else None)


# --- discharge and re-admission -----------------------------------------------------------

def status_from_record(patient: Patient) -> str:
    """Where the patient stands, from what the record holds (never "discharged")."""
    if not patient.user.has_password:
        return "invited"
    if intake.submitted_response(patient) is None:
        return "intake_in_progress"
    if db.session.scalar(select(exists().where(TreatmentSession.patient_id == patient.id,
                                               TreatmentSession.status == "recorded"))):
        return "in_treatment"
    return "cleared" if documents.is_cleared(patient) else "intake_submitted"


def _move(patient: Patient, actor: User, when_status, to: str, action: str,
          detail: dict[str, str], refusal: str, then: Callable[[], Any] | None = None,
          **values) -> None:
    """Change the status once: a conditional UPDATE, so that two people pressing the same
    button at once change it (and audit it) once. ``then`` runs in the same transaction
    (the follow-ups a discharge schedules)."""
    result = cast(CursorResult[Any], db.session.execute(
        update(Patient).where(Patient.id == patient.id, when_status)
        .values(status=to, last_activity_at=clock.now(), **values)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        raise ChartError(refusal)
    audit.write(action, patient=patient, actor=actor, detail=detail)
    if then is not None:
        then()
    db.session.commit()
    db.session.refresh(patient)


def discharge(patient: Patient, actor: User, reason: str) -> None:
    if reason not in DISCHARGE_REASONS:
        raise ValueError(f"unknown discharge reason {reason!r}")
    now = clock.now()
    weeks = followups.configured_weeks()  # read before the UPDATE (it may create the row)
    _move(patient, actor, Patient.status != "discharged", "discharged", "patient.discharged",
          {"reason": reason, "from": patient.status}, "already_discharged",
          then=lambda: followups.schedule(patient, actor, now, reason, weeks),
          discharged_at=now, discharge_reason=reason)


def readmit(patient: Patient, actor: User) -> str:
    """Back from discharge, at the status the record gives; returns it. The pending
    follow-ups are cancelled on the way (_cancel_follow_ups), as when a session re-admits."""
    status = status_from_record(patient)
    if not sessions.readmit(patient, actor, status):
        db.session.rollback()
        raise ChartError("not_discharged")
    db.session.commit()
    db.session.refresh(patient)
    return status


@sessions.patient_readmitted.connect
def _cancel_follow_ups(patient: Patient, actor: User | None = None, **_kwargs) -> None:
    """However the patient comes back (the chart's button, or a session recorded for them),
    the follow-ups of their discharge are no longer asked for: the patient is in treatment
    again, and a later discharge schedules its own (SPEC 12.1)."""
    followups.cancel_pending(patient, actor, "readmitted")
