"""Correction requests (SPEC 11.1): a patient asks for a correction of their record, on one
of their intake answers or in general; a practitioner answers it once, by amending the
intake (portal/intake/amendments.py keeps the original beside the amendment) or by
declining with a reason the patient reads.

Ontario's PHIPA s. 55(1) gives the patient the right to ask for a correction, s. 55(3) sets
the answer within 30 days (extendable once by up to 30 more, with notice: s. 55(3)-(4)),
and s. 55(9)-(10) require the reasons for a refusal to be given to the individual. Due
dates: portal/rights/dates.py."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import joinedload

from portal import audit, clock, mail
from portal.extensions import db
from portal.intake import amendments, responses
from portal.intake.definitions import Question, Questionnaire, text
from portal.intake.forms import StepForm, StepInput
from portal.links import absolute_url
from portal.models import IntakeResponse, Patient, RecordRequest, User
from portal.rights.dates import due_at_for

DETAIL_MAX = 2000
RESPONSE_MIN = 3
RESPONSE_MAX = 2000


class AlreadyAnswered(Exception):
    """Someone answered this request first (or it was answered in another tab)."""


class NotAmendable(Exception):
    """The change cannot be made as it is: ``missing`` lists questions the change makes
    necessary, or nothing changed (``unchanged``)."""

    def __init__(self, missing: list[Question] | None = None, unchanged: bool = False):
        super().__init__()
        self.missing = missing or []
        self.unchanged = unchanged


# --- what a patient can ask about ---------------------------------------------------------

def _answered_questions(response: IntakeResponse) -> Iterator[Question]:
    definition = responses.definition_for(response)
    answers = responses.effective_answers(response)
    for step in definition.steps:
        if step.kind != "questions":
            continue
        for question in step.questions:
            # The consent is signed again on its own page, never corrected (SPEC 2.3).
            if question.type != "signature" and answers.get(question.id) is not None:
                yield question


def question_choices(patient: Patient, locale: str) -> list[tuple[str, str]]:
    """(question key, its label in ``locale``) of each question the patient answered in
    their sent intake, in the questionnaire's order; empty without a sent intake."""
    response = responses.submitted_response(patient)
    if response is None:
        return []
    return [(q.id, text(q.label, locale)) for q in _answered_questions(response)]


def subject_question(patient: Patient, subject: str | None) -> Question | None:
    """The intake question a request is about (None: in general, or no longer there)."""
    response = responses.submitted_response(patient)
    if response is None or subject is None:
        return None
    return responses.definition_for(response).questions.get(subject)


def subject_label(patient: Patient, subject: str | None, locale: str) -> str | None:
    question = subject_question(patient, subject)
    return text(question.label, locale) if question is not None else None


# --- the patient's request ----------------------------------------------------------------

def request_correction(patient: Patient, user: User, subject: str | None,
                       detail: str) -> RecordRequest:
    """Recorded with its due date; it appears on the practitioners' worklist (portal/clinic/
    worklist/requests.py). The caller has checked the password and the subject."""
    now = clock.now()
    req = RecordRequest(patient_id=patient.id, kind="correction", channel="portal",
                        subject=subject, detail=detail, received_at=now,
                        due_at=due_at_for(now), created_by_id=user.id)
    db.session.add(req)
    db.session.flush()
    audit.write("request.correction_made", patient=patient, actor=user,
                subject=req.public_id, detail={"kind": "correction"})
    db.session.commit()
    return req


def requests_of(patient: Patient) -> list[RecordRequest]:
    """The patient's correction requests, newest first, with their amendment."""
    return list(db.session.scalars(
        select(RecordRequest)
        .where(RecordRequest.patient_id == patient.id, RecordRequest.kind == "correction")
        .options(joinedload(RecordRequest.amendment))
        .order_by(RecordRequest.received_at.desc(), RecordRequest.id.desc())))


def request_of(patient: Patient, public_id: str) -> RecordRequest | None:
    """One correction request of this patient (None for anyone else's)."""
    return db.session.scalar(select(RecordRequest).where(
        RecordRequest.public_id == public_id, RecordRequest.patient_id == patient.id,
        RecordRequest.kind == "correction"))


def record_view(req: RecordRequest, staff: User) -> None:
    """A practitioner reads a request: the patient's words and their current intake answer,
    audited as every view of the intake is (SPEC 7.1), naming the request. Commits."""
    response = responses.submitted_response(req.patient)
    audit.write("intake.viewed", patient=req.patient, actor=staff,
                subject=response.public_id if response else None,
                detail={"request": req.public_id})
    db.session.commit()


# --- the practitioner's answer ------------------------------------------------------------

def value_form_class(definition: Questionnaire, question: Question, locale: str,
                     today, base: type[StepForm] = StepForm) -> type[StepForm]:
    """A form with the fields of one question: the value the practitioner sets. Built like
    a step's form (portal/intake/forms.py) on a step that holds this question only, so that
    reading it changes this answer and nothing else of its step."""
    step = definition.step(question.step)
    assert step is not None
    attrs: dict[str, Any] = {"definition": definition, "locale": locale,
                             "step": dataclasses.replace(step, questions=[question])}
    attrs.update(question.form_fields(locale, today))
    return type("CorrectionValueForm", (base,), attrs)


def _mark_answered(req: RecordRequest, staff: User, outcome: str, note: str | None,
                   amendment_id: int | None = None) -> None:
    """The one answer: a conditional UPDATE, so a second (another tab, a colleague) finds
    it answered and changes nothing (AlreadyAnswered, after a rollback)."""
    result = cast(CursorResult[Any], db.session.execute(
        update(RecordRequest)
        .where(RecordRequest.id == req.id, RecordRequest.answered_at.is_(None))
        .values(answered_at=clock.now(), answered_by_id=staff.id, outcome=outcome,
                response=note, amendment_id=amendment_id)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        raise AlreadyAnswered()


def _tell_patient(req: RecordRequest) -> None:
    """No health details in the message: it says there is an answer to read."""
    user = req.patient.user
    if user is None or not user.email or not user.active:
        return
    mail.queue("request_answered", user.email, user.locale, name=user.name,
               link=absolute_url("rights.correction_new"))


def accept(req: RecordRequest, staff: User, note: str | None,
           change: tuple[int, StepInput] | None = None) -> None:
    """Accepted: with ``change`` (the step of the request's question and the value read
    from its value form), an amendment of the intake made by the practitioner with the
    request as its reason; without (a request in general), the answer is the note."""
    if req.answered_at is not None:
        raise AlreadyAnswered()
    if change is not None:
        patient = req.patient
        response = responses.submitted_response(patient)
        assert response is not None
        # The answer first (a second one stops here), then the amendment, in one
        # transaction with the audit and the e-mail: one commit, below.
        _mark_answered(req, staff, "amended", note)
        step_no, data = change
        reason = note or _("Corrected at the patient's request.")
        result = amendments.amend(patient, staff, response, step_no, data, reason,
                                  commit=False)
        if result.amendment is None:
            db.session.rollback()
            raise NotAmendable(result.missing, result.unchanged)
        db.session.flush()
        db.session.execute(update(RecordRequest).where(RecordRequest.id == req.id)
                           .values(amendment_id=result.amendment.id)
                           .execution_options(synchronize_session=False))
    else:
        _mark_answered(req, staff, "amended", note)
    audit.write("request.correction_accepted", patient=req.patient, actor=staff,
                subject=req.public_id, detail={"kind": "correction"})
    _tell_patient(req)
    db.session.commit()
    db.session.refresh(req)


def decline(req: RecordRequest, staff: User, reason: str) -> None:
    _mark_answered(req, staff, "declined", reason)
    audit.write("request.correction_declined", patient=req.patient, actor=staff,
                subject=req.public_id, detail={"kind": "correction"})
    _tell_patient(req)
    db.session.commit()
    db.session.refresh(req)
