"""Reading a patient's intake: which questionnaire version it answers, where the patient
is, and the answers, scores and flags with the amendments applied."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytz
from flask import current_app
from sqlalchemy import select

from portal import clock
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.intake import answers as rules
from portal.intake.definitions import Question, Questionnaire, registry
from portal.intake.types.rows import Rows
from portal.models import IntakeAmendment, IntakeResponse, Patient

DEFAULT_QUESTIONNAIRE = "ims_intake"


def questionnaire_key() -> str:
    return current_app.config.get("INTAKE_QUESTIONNAIRE", DEFAULT_QUESTIONNAIRE)


def current_definition() -> Questionnaire:
    """The newest version: what a patient who has not started yet will answer."""
    return registry().questionnaire(questionnaire_key())


def definition_for(response: IntakeResponse | None) -> Questionnaire:
    """The version a response answered; it never moves to a newer one (SPEC 2.1)."""
    if response is None:
        return current_definition()
    return registry().questionnaire(response.definition_key, response.definition_version)


def today() -> date:
    """The clinic's date, for "not in the future" checks."""
    return clock.today_in(current_settings().timezone)


def clinic_date(at: datetime) -> date:
    """The clinic's date at ``at`` (ages are judged on the day the intake was sent)."""
    return at.astimezone(pytz.timezone(current_settings().timezone)).date()


def response_for(patient: Patient) -> IntakeResponse | None:
    return db.session.scalar(select(IntakeResponse).where(
        IntakeResponse.patient_id == patient.id,
        IntakeResponse.definition_key == questionnaire_key()))


def signed_versions(definition: Questionnaire) -> dict[str, int]:
    """consent key -> its current version, for the "is the signature current" check."""
    key = definition.consent_key
    return {key: registry().consent(key).version} if key else {}


def submitted_response(patient: Patient) -> IntakeResponse | None:
    response = response_for(patient)
    return response if response is not None and response.submitted else None


def missing_answers(response: IntakeResponse | None) -> list[Question]:
    definition = definition_for(response)
    return rules.missing(definition, response.answers if response else {},
                         signed_versions(definition))


# --- where the patient is -----------------------------------------------------------------

@dataclass
class IntakeState:
    state: str  # not_started, in_progress, submitted
    step: int
    steps: int
    response: IntakeResponse | None = None


def state(patient: Patient) -> IntakeState:
    response = response_for(patient)
    definition = definition_for(response)
    if response is None:
        return IntakeState("not_started", 1, definition.step_count)
    if response.submitted:
        return IntakeState("submitted", definition.step_count, definition.step_count, response)
    return IntakeState("in_progress", min(response.current_step, definition.step_count),
                       definition.step_count, response)


# --- the answers --------------------------------------------------------------------------

def with_changes(definition: Questionnaire, step_no: int, answers: dict[str, Any],
                 changes: dict[str, Any]) -> dict[str, Any]:
    """``answers`` with a step's posted values (None: no answer any more), without the
    step's follow-ups that no longer apply."""
    out = dict(answers)
    for qid, value in changes.items():
        if value is None:
            out.pop(qid, None)
        else:
            out[qid] = value
    for question in definition.questions_of(step_no):
        if not rules.visible(definition, question, out):
            out.pop(question.id, None)
    return out


def effective_answers(response: IntakeResponse) -> dict[str, Any]:
    """The submitted answers with every amendment applied in order."""
    out = dict(response.answers)
    for amendment in response.amendments:
        for qid, value in amendment.changes.items():
            if value is None:
                out.pop(qid, None)
            else:
                out[qid] = value
    return out


def effective_scores(response: IntakeResponse) -> dict[str, Any]:
    for amendment in reversed(response.amendments):
        if amendment.scores is not None:
            return amendment.scores
    return response.scores or {}


def effective_flags(response: IntakeResponse) -> list[dict[str, Any]]:
    for amendment in reversed(response.amendments):
        if amendment.flags is not None:
            return amendment.flags
    return response.flags or []


def amended_questions(response: IntakeResponse) -> dict[str, list[IntakeAmendment]]:
    out: dict[str, list[IntakeAmendment]] = {}
    for amendment in response.amendments:
        for qid in amendment.changes:
            out.setdefault(qid, []).append(amendment)
    return out


def psfs_activities(patient: Patient) -> list[str]:
    """The activities named at intake, carried forward to follow-ups (SPEC 2.3 step 3)."""
    response = submitted_response(patient)
    if response is None:
        return []
    definition = definition_for(response)
    qid = definition.scoring.get("psfs")
    question = definition.questions.get(qid) if qid else None
    if not isinstance(question, Rows):
        return []
    name = question.name_column.id
    return [row[name] for row in effective_answers(response).get(question.id) or []]
