"""Sending the intake (SPEC 2.6, 2.7): exactly once, with its scores and flags stored, the
practitioners told, and the patient's phone and date of birth copied where staff search."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, update

from portal import audit, clock, mail
from portal.auth import services as auth_services
from portal.documents import services as documents
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.definitions import Question, Questionnaire
from portal.intake.questionnaires import scoring
from portal.intake.responses import clinic_date, definition_for, missing_answers, response_for
from portal.links import absolute_url
from portal.models import IntakeResponse, Patient, User
from portal.searchtext import phone_digits


@dataclass
class SubmitResult:
    response: IntakeResponse | None
    submitted_now: bool = False
    already: bool = False
    conflict: bool = False
    missing: list[Question] = field(default_factory=list)

def submit(patient: Patient, revision: int | None, notify: bool = True) -> SubmitResult:
    """Send the intake, once. The switch from in_progress to submitted is one conditional
    UPDATE: of two simultaneous requests the database lets exactly one match, and only that
    one computes the stored scores, writes the audit event and e-mails staff."""
    response = response_for(patient)
    if response is None:
        return SubmitResult(None, missing=missing_answers(None))
    if response.submitted:
        return SubmitResult(response, already=True)
    if revision != response.revision:
        return SubmitResult(response, conflict=True)
    definition = definition_for(response)
    missing = missing_answers(response)
    if missing or not consents.has_current_consent(patient):
        return SubmitResult(response, missing=missing or [
            q for q in definition.questions.values() if q.type == "signature"])
    answers = response.answers
    scores = scoring.compute(definition, answers)
    now = clock.now()
    # Ages (the age-over-50 note) are judged on the day it is sent, the clinic's date.
    raised = flag_rules.compute(definition, answers, clinic_date(now))
    result = cast(CursorResult[Any], db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.status == "in_progress",
               IntakeResponse.revision == revision)
        .values(status="submitted", submitted_at=now, revision=revision + 1,
                current_step=definition.step_count, scores=scores, flags=raised,
                **flag_rules.counts(raised), updated_at=now)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        fresh = response_for(patient)
        if fresh is not None and fresh.submitted:
            return SubmitResult(fresh, already=True)
        return SubmitResult(fresh, conflict=True)
    db.session.execute(update(Patient)
                       .where(Patient.id == patient.id,
                              Patient.status.in_(("invited", "intake_in_progress")))
                       .values(status="intake_submitted", last_activity_at=now)
                       .execution_options(synchronize_session=False))
    # A clearance accepted before the intake arrived makes the patient cleared now.
    db.session.refresh(patient)
    documents.sync_status(patient)
    record_contact(patient, definition, answers)
    audit.write("intake.submitted", patient=patient, actor=patient.user,
                subject=response.public_id,
                detail={"definition": definition.key, "version": definition.version})
    if notify:
        _notify_staff(patient)
    db.session.commit()
    db.session.refresh(response)
    db.session.refresh(patient)
    return SubmitResult(response, submitted_now=True)


def staff_to_notify(patient: Patient) -> list[User]:
    """The patient's practitioner, or every active practitioner when none is assigned."""
    assigned = patient.practitioner
    if assigned is not None and assigned.active and assigned.is_staff:
        return [assigned]
    return auth_services.active_staff()


def _notify_staff(patient: Patient) -> None:
    link = absolute_url("intake.staff_view", patient_id=patient.public_id)
    for person in staff_to_notify(patient):
        # No name and no answers: e-mails carry no health information (SPEC 6.1).
        mail.queue("intake_submitted", person.email, person.locale, name=person.name,
                   link=link)


def record_contact(patient: Patient, definition: Questionnaire,
                   answers: dict[str, Any]) -> None:
    """Copy the patient's phone and date of birth from the intake answers onto the patient,
    where the staff search finds them (SPEC 5.2). The questions are the ones whose
    autocomplete token says so: "tel" is the person's own phone (an emergency contact's
    number has none), "bday" their date of birth (HTML autofill tokens)."""
    phone_q = next((q for q in definition.questions.values() if q.autocomplete == "tel"), None)
    dob_q = next((q for q in definition.questions.values() if q.autocomplete == "bday"), None)
    patient.phone = phone_digits(answers.get(phone_q.id)) if phone_q else None
    try:
        dob = answers.get(dob_q.id) if dob_q else None
        patient.date_of_birth = date.fromisoformat(dob) if isinstance(dob, str) else None
    except ValueError:
        patient.date_of_birth = None
