"""The intake's rules (SPEC 2): starting, saving a step with the stale-tab check, keeping what
was typed across an expired sign-in, submitting exactly once, amendments, staff review.

Functions take plain values and commit; the views hold the request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from blinker import Namespace
from cryptography.fernet import InvalidToken
from flask import current_app, url_for
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, clock, crypto, mail
from portal.clinic_settings import current_settings
from portal.documents import services as documents
from portal.extensions import db
from portal.intake import answers as rules
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.definitions import Question, Questionnaire, registry
from portal.intake.forms import StepInput
from portal.intake.questionnaires import scoring
from portal.models import (IntakeAmendment, IntakeResponse, IntakeStash, Patient,
                           STAFF_ROLES, User)
from portal.searchtext import phone_digits

DEFAULT_QUESTIONNAIRE = "ims_intake"
STASH_TTL = timedelta(days=7)


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


def response_for(patient: Patient) -> IntakeResponse | None:
    return db.session.scalar(select(IntakeResponse).where(
        IntakeResponse.patient_id == patient.id,
        IntakeResponse.definition_key == questionnaire_key()))


def signed_versions(definition: Questionnaire) -> dict[str, int]:
    """consent key -> its current version, for the "is the signature current" check."""
    key = definition.consent_key
    return {key: registry().consent(key).version} if key else {}


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


# --- saving a step ------------------------------------------------------------------------

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
    older answers (and would move the patient back a step)."""
    if revision == response.revision:
        return False
    return not (own_older_ok and editor and revision is not None
                and revision < response.revision and editor == response.last_editor)


def _response_to_save(patient: Patient, definition: Questionnaire, revision: int | None,
                      editor: str | None, autosave: bool) -> IntakeResponse | SaveResult:
    """The response a step's answers go into (made at the first save), or why not."""
    response = response_for(patient)
    if response is not None and response.submitted:
        return SaveResult(response, submitted=True)
    if response is not None and response.definition_version != definition.version:
        return SaveResult(response, conflict=True)
    if response is None:
        if revision not in (0, None):
            return SaveResult(None, conflict=True)
        response = _start(patient, definition)
        if response is None:  # created meanwhile by another tab
            return SaveResult(response_for(patient), conflict=True)
    elif _stale(response, revision, editor, own_older_ok=not autosave):
        return SaveResult(response, conflict=True)
    return response


def _with_changes(definition: Questionnaire, step_no: int, answers: dict[str, Any],
                  changes: dict[str, Any]) -> dict[str, Any]:
    """``answers`` with a step's posted values (None: no answer any more), without the
    step's follow-ups that no longer apply."""
    out = dict(answers)
    for qid, value in changes.items():
        if value is None:
            out.pop(qid, None)
        else:
            out[qid] = value
    for question in definition.step(step_no).questions:
        if not rules.visible(definition, question, out):
            out.pop(question.id, None)
    return out


def _signature_answer(patient: Patient, response: IntakeResponse, step_no: int,
                      data: StepInput, locale: str, client: consents.Client,
                      definition: Questionnaire) -> tuple[str, dict] | None:
    """The signature question of the step and its answer: signed now with the typed name,
    or signed already (this step, or the consent page); None when neither."""
    question = next((q for q in definition.step(step_no).questions
                     if q.type == "signature"), None)
    if question is None:
        return None
    consent = registry().consent(question.consent)
    if data.signature_name:
        row = consents.sign(patient, consent, data.signature_name, locale, client, response)
    else:
        row = consents.signature(patient, consent)
    return (question.id, consents.answer(row)) if row is not None else None


def save_step(patient: Patient, definition: Questionnaire, step_no: int, data: StepInput, *,
              revision: int | None, editor: str | None, go_to: int, enforce_required: bool,
              locale: str, client: consents.Client, autosave: bool = False) -> SaveResult:
    """Store the valid answers of one step (never the invalid ones), refuse a stale page,
    and move the resume point to ``go_to`` when the step is complete enough to leave."""
    step = definition.step(step_no)
    response = _response_to_save(patient, definition, revision, editor, autosave)
    if isinstance(response, SaveResult):
        return response
    merged = _with_changes(definition, step_no, response.answers, data.values)
    signed = _signature_answer(patient, response, step_no, data, locale, client, definition)
    if signed is not None:
        merged[signed[0]] = signed[1]

    missing = rules.missing(definition, merged, signed_versions(definition), step=step_no) \
        if enforce_required else []
    leaving = not missing and not data.errors
    now = clock.now()
    result = db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.revision == response.revision,
               IntakeResponse.status == "in_progress")
        .values(answers=merged, revision=response.revision + 1, last_editor=editor,
                current_step=go_to if leaving else step_no, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # another save won the race since we read the response
        db.session.rollback()
        return SaveResult(response_for(patient), conflict=True)
    patient.last_activity_at = now
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                 IntakeStash.step == step_no))
    db.session.commit()
    db.session.refresh(response)
    step_answers = {q.id: merged.get(q.id) for q in step.questions}
    return SaveResult(response, saved=True, missing=missing,
                      advice=flag_rules.advice_levels(definition, step_answers))


# --- keeping what was typed (SPEC 2.4) -----------------------------------------------------

def patient_by_user_public_id(public_id: str | None) -> Patient | None:
    if not public_id:
        return None
    user = db.session.scalar(select(User).where(User.public_id == public_id,
                                                User.role == "patient",
                                                User.active.is_(True)))
    return user.patient if user is not None else None


def stash(patient: Patient, step_no: int, fields: dict[str, list[str]], revision: int | None,
          editor: str | None) -> bool:
    """Keep posted fields that could not be saved, encrypted, until the patient is back."""
    if not any(v.strip() for values in fields.values() for v in values):
        return False
    payload = crypto.encrypt(json.dumps(fields).encode())
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                 IntakeStash.step == step_no))
    db.session.add(IntakeStash(patient_id=patient.id, step=step_no, revision=revision or 0,
                               editor=editor, payload=payload, created_at=clock.now()))
    db.session.commit()
    return True


@dataclass
class Stashed:
    fields: dict[str, list[str]]
    revision: int
    editor: str | None


def stashed(patient: Patient, step_no: int) -> Stashed | None:
    row = db.session.scalar(select(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                      IntakeStash.step == step_no))
    if row is None:
        return None
    try:
        if clock.now() - row.created_at > STASH_TTL:
            raise InvalidToken
        fields = json.loads(crypto.decrypt(row.payload))
    except (InvalidToken, ValueError):
        db.session.delete(row)
        db.session.commit()
        return None
    return Stashed(fields, row.revision, row.editor)


def stashed_step(patient: Patient) -> int | None:
    """The step with typed answers waiting to be restored, if any."""
    return db.session.scalar(select(IntakeStash.step)
                             .where(IntakeStash.patient_id == patient.id,
                                    IntakeStash.created_at > clock.now() - STASH_TTL)
                             .order_by(IntakeStash.created_at.desc()).limit(1))


def discard_stash(patient: Patient, step_no: int) -> None:
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                 IntakeStash.step == step_no))
    db.session.commit()


# --- submitting (SPEC 2.6, 2.7) -------------------------------------------------------------

@dataclass
class SubmitResult:
    response: IntakeResponse | None
    submitted_now: bool = False
    already: bool = False
    conflict: bool = False
    missing: list[Question] = field(default_factory=list)


def missing_answers(response: IntakeResponse | None) -> list[Question]:
    definition = definition_for(response)
    return rules.missing(definition, response.answers if response else {},
                         signed_versions(definition))


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
    raised = flag_rules.compute(definition, answers)
    reds = sum(1 for f in raised if f["kind"] == "red_flag")
    now = clock.now()
    result = db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.status == "in_progress",
               IntakeResponse.revision == revision)
        .values(status="submitted", submitted_at=now, revision=revision + 1,
                current_step=definition.step_count, scores=scores, flags=raised,
                has_red_flags=reds > 0, red_flag_count=reds,
                precaution_count=len(raised) - reds, updated_at=now)
        .execution_options(synchronize_session=False))
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
    return list(db.session.scalars(select(User).where(User.role.in_(STAFF_ROLES),
                                                      User.active.is_(True),
                                                      User.password_hash.is_not(None))
                                   .order_by(User.id)))


def _notify_staff(patient: Patient) -> None:
    link = current_app.config["BASE_URL"].rstrip("/") + url_for(
        "intake.staff_view", patient_id=patient.public_id)
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


# --- after submission ---------------------------------------------------------------------

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


@dataclass
class AmendResult:
    amendment: IntakeAmendment | None = None
    unchanged: bool = False
    missing: list[Question] = field(default_factory=list)


_signals = Namespace()
# Sent by amend() with the patient, inside its transaction: what other features derive from
# the intake (the treatment outcome's baseline) is brought up to date in the same commit.
intake_amended = _signals.signal("intake-amended")


def amend(patient: Patient, author: User, response: IntakeResponse, step_no: int,
          data: StepInput, reason: str) -> AmendResult:
    """A correction after submission (SPEC 2.6): the original stays, the amendment holds
    what changed, and the intake goes back on the practitioner's list to review."""
    definition = definition_for(response)
    step = definition.step(step_no)
    before = effective_answers(response)
    after = _with_changes(definition, step_no, before, data.values)
    changed = [q.id for q in step.questions if after.get(q.id) != before.get(q.id)]
    if not changed:
        return AmendResult(unchanged=True)
    missing = rules.missing(definition, after, None, step=step_no)
    if missing:
        return AmendResult(missing=missing)
    raised = flag_rules.compute(definition, after)
    reds = sum(1 for f in raised if f["kind"] == "red_flag")
    now = clock.now()
    amendment = IntakeAmendment(response=response, step=step_no, created_at=now,
                                author_id=author.id, reason=reason,
                                changes={qid: after.get(qid) for qid in changed},
                                previous={qid: before.get(qid) for qid in changed},
                                scores=scoring.compute(definition, after), flags=raised)
    db.session.add(amendment)
    response.has_red_flags = reds > 0
    response.red_flag_count = reds
    response.precaution_count = len(raised) - reds
    response.reviewed_at = None
    response.reviewed_by_id = None
    response.updated_at = now
    patient.last_activity_at = now
    record_contact(patient, definition, after)
    audit.write("intake.amended", patient=patient, actor=author, subject=response.public_id,
                detail={"step": step_no})
    intake_amended.send(patient)
    db.session.commit()
    return AmendResult(amendment=amendment)


def amended_questions(response: IntakeResponse) -> dict[str, list[IntakeAmendment]]:
    out: dict[str, list[IntakeAmendment]] = {}
    for amendment in response.amendments:
        for qid in amendment.changes:
            out.setdefault(qid, []).append(amendment)
    return out


def sign_current_consent(patient: Patient, name: str, locale: str,
                         client: consents.Client) -> None:
    """A new consent version, signed after the intake was sent (from the patient's home)."""
    consents.sign(patient, consents.current_consent(), name, locale, client,
                  response_for(patient))
    patient.last_activity_at = clock.now()
    db.session.commit()


# --- staff --------------------------------------------------------------------------------

def submitted_response(patient: Patient) -> IntakeResponse | None:
    response = response_for(patient)
    return response if response is not None and response.submitted else None


def record_view(response: IntakeResponse | None, patient: Patient, viewer: User) -> None:
    """Every view of a patient's intake is audited (SPEC 7.1)."""
    audit.write("intake.viewed", patient=patient, actor=viewer,
                subject=response.public_id if response else None)
    db.session.commit()


def mark_reviewed(response: IntakeResponse, reviewer: User) -> bool:
    """Once: a second click (or a second practitioner) changes nothing."""
    result = db.session.execute(
        update(IntakeResponse)
        .where(IntakeResponse.id == response.id, IntakeResponse.status == "submitted",
               IntakeResponse.reviewed_at.is_(None))
        .values(reviewed_at=clock.now(), reviewed_by_id=reviewer.id)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    audit.write("intake.reviewed", patient=response.patient, actor=reviewer,
                subject=response.public_id)
    db.session.commit()
    db.session.refresh(response)
    return True


def new_intakes(limit: int = 50) -> list[IntakeResponse]:
    """Submitted and not yet reviewed: red flags first, then oldest first."""
    return list(db.session.scalars(
        select(IntakeResponse)
        .where(IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None))
        .order_by(IntakeResponse.has_red_flags.desc(), IntakeResponse.submitted_at,
                  IntakeResponse.id)
        .options(joinedload(IntakeResponse.patient).joinedload(Patient.user),
                 selectinload(IntakeResponse.amendments))
        .limit(limit)))


def count_new_intakes() -> int:
    return db.session.scalar(select(func.count()).select_from(IntakeResponse).where(
        IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None))) or 0


def psfs_activities(patient: Patient) -> list[str]:
    """The activities named at intake, carried forward to follow-ups (SPEC 2.3 step 3)."""
    response = submitted_response(patient)
    if response is None:
        return []
    definition = definition_for(response)
    qid = definition.scoring.get("psfs")
    question = definition.questions.get(qid) if qid else None
    if question is None:
        return []
    name = question.name_column.id
    return [row[name] for row in effective_answers(response).get(qid) or []]
