"""Saving a step of the wizard (SPEC 2.4, 2.5): the valid answers only, never over newer
ones (the stale-tab check), the resume point moved on when the step is complete enough to
leave, and the consent signed when its step is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.intake import answers as rules
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.definitions import Question, Questionnaire, registry
from portal.intake.responses import response_for, signed_versions, with_changes
from portal.intake.types import StepInput
from portal.intake.types.signature import Signature
from portal.models import ConsentSignature, IntakeResponse, IntakeStash, Patient


@dataclass
class SaveResult:
    response: IntakeResponse | None
    saved: bool = False
    conflict: bool = False
    submitted: bool = False          # refused: the intake was already sent
    missing: list[Question] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)


def _start(patient: Patient, definition: Questionnaire) -> IntakeResponse | None:
    """Create the response at the first save; None when another request just did."""
    now = clock.now()
    response = IntakeResponse(patient_id=patient.id, definition_key=definition.key,
                              definition_version=definition.version, answers={}, revision=0,
                              current_step=1, created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(response)
    except IntegrityError:
        return None
    return response


def _stale(response: IntakeResponse, revision: int | None, editor: str | None,
           own_older_ok: bool) -> bool:
    """A save is stale when the response changed since the page was drawn. One exception:
    a button post may carry the revision from before its own page's last autosave (the two
    raced); the post holds the whole form as the patient left it, so it is the newest. An
    autosave never gets that exception: arriving after its page's button post, it holds
    older answers (and would move the patient back a step). The page's last word (sent as
    it is left or hidden) and its retries after a failed save do: they hold the whole form
    too, and the page sends nothing after its button post."""
    if revision == response.revision:
        return False
    return not (own_older_ok and editor and revision is not None
                and revision < response.revision and editor == response.last_editor)


def _response_to_save(patient: Patient, definition: Questionnaire, revision: int | None,
                      editor: str | None,
                      autosave: bool) -> tuple[IntakeResponse, bool] | SaveResult:
    """The response a step's answers go into (made at the first save) and whether the page
    is stale, or why nothing can be saved."""
    response = response_for(patient)
    if response is None:
        if revision not in (0, None):
            return SaveResult(None, conflict=True)
        response = _start(patient, definition)
        if response is not None:
            return response, False
        # Made meanwhile by another request (the same page's double click, another tab):
        # checked against like any existing response.
        response = response_for(patient)
        if response is None:
            return SaveResult(None, conflict=True)
    if response.submitted:
        return SaveResult(response, submitted=True)
    if response.definition_version != definition.version:
        return SaveResult(response, conflict=True)
    return response, _stale(response, revision, editor, own_older_ok=not autosave)


def _signature_answer(patient: Patient, response: IntakeResponse, step_no: int,
                      data: StepInput, locale: str, client: consents.Client,
                      definition: Questionnaire) -> tuple[str, dict] | None:
    """The signature question of the step and its answer: signed now with the typed name,
    or signed already (this step, or the consent page); None when neither."""
    question = next((q for q in definition.questions_of(step_no)
                     if isinstance(q, Signature)), None)
    if question is None:
        return None
    consent = registry().consent(question.consent)
    row: ConsentSignature | None
    if data.signature_name:
        row = consents.sign(patient, consent, data.signature_name, locale, client, response)
    else:
        row = consents.signature(patient, consent)
    return (question.id, consents.answer(row)) if row is not None else None


def save_step(patient: Patient, definition: Questionnaire, step_no: int, data: StepInput, *,
              revision: int | None, editor: str | None, go_to: int, enforce_required: bool,
              locale: str, client: consents.Client, autosave: bool = False) -> SaveResult:
    """Store the valid answers of one step (never the invalid ones), refuse a stale page,
    and move the resume point to ``go_to`` when the step is complete enough to leave.

    Two posts of one page can read the same revision (a double click, a retry whose first
    answer was lost); the one that writes second finds the revision moved and is checked
    again against what the first one wrote."""
    save = _Save(patient, definition, step_no, data, revision, editor, go_to,
                 enforce_required, locale, client, autosave)
    for _attempt in range(2):
        result = _save_once(save)
        if result is not None:
            return result
    return SaveResult(response_for(patient), conflict=True)


@dataclass
class _Save:
    patient: Patient
    definition: Questionnaire
    step_no: int
    data: StepInput
    revision: int | None
    editor: str | None
    go_to: int
    enforce_required: bool
    locale: str
    client: consents.Client
    autosave: bool


def _save_once(save: _Save) -> SaveResult | None:
    """One try; None when another save wrote between our read and our write."""
    found = _response_to_save(save.patient, save.definition, save.revision, save.editor,
                              save.autosave)
    if isinstance(found, SaveResult):
        return found
    response, stale = found
    definition, step_no, data = save.definition, save.step_no, save.data
    merged = with_changes(definition, step_no, response.answers, data.values)
    if stale:
        if merged != response.answers or data.signature_name:
            return SaveResult(response, conflict=True)
        # The answers the page holds are the stored ones: nothing to write, no conflict.
        return _result(save, response, merged, _missing(save, merged))
    signed = _signature_answer(save.patient, response, step_no, data, save.locale,
                               save.client, definition)
    if signed is not None:
        merged[signed[0]] = signed[1]
    missing = _missing(save, merged)
    leaving = not missing and not data.errors
    now = clock.now()
    result = cast(CursorResult[Any], db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.revision == response.revision,
               IntakeResponse.status == "in_progress")
        .values(answers=merged, revision=response.revision + 1, last_editor=save.editor,
                current_step=save.go_to if leaving else step_no, updated_at=now)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:  # another save won the race since we read the response
        db.session.rollback()
        return None
    save.patient.last_activity_at = now
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == save.patient.id,
                                                 IntakeStash.step == step_no))
    db.session.commit()
    db.session.refresh(response)
    return _result(save, response, merged, missing)


def _missing(save: _Save, merged: dict[str, Any]) -> list[Question]:
    if not save.enforce_required:
        return []
    return rules.missing(save.definition, merged, signed_versions(save.definition),
                         step=save.step_no)


def _result(save: _Save, response: IntakeResponse, merged: dict[str, Any],
            missing: list[Question]) -> SaveResult:
    step_answers = {q.id: merged.get(q.id) for q in save.definition.questions_of(save.step_no)}
    return SaveResult(response, saved=True, missing=missing,
                      advice=flag_rules.advice_levels(save.definition, step_answers))
