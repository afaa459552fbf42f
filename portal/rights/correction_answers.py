"""A practitioner answers a correction request (SPEC 11.1), in the patient's chart (the
intake tab): accept it, by setting the new value of the question it is about (an amendment
of the intake, portal/intake/amendments.py) or, for a request in general, with a note of
what was done; or decline it with a reason the patient reads. Once: a second answer is
refused politely."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal import chart_frame, htmx
from portal.intake import bodymap, forms, responses
from portal.intake.definitions import text
from portal.models import Patient, RecordRequest
from portal.rights import bp, correcting
from portal.rights.correction_forms import AcceptValueForm, AnswerNoteForm, DeclineForm
from portal.rights.requests import is_overdue
from portal.security import me, patient_for, staff_required


def _request(patient_id: str, request_id: str) -> tuple[Patient, RecordRequest]:
    patient = patient_for(me(), patient_id)
    req = correcting.request_of(patient, request_id)
    if req is None:
        abort(404)
    return patient, req


def _value_form(patient: Patient, req: RecordRequest, formdata=None):
    """The value form of the request's question, drawn with the current answer (None for a
    request in general, or when the intake no longer has that question)."""
    question = correcting.subject_question(patient, req.subject)
    response = responses.submitted_response(patient)
    if question is None or response is None:
        return None, None, None
    definition = responses.definition_for(response)
    cls = correcting.value_form_class(definition, question, str(get_locale()),
                                      responses.today(), base=AcceptValueForm)
    if formdata is None:
        data = forms.form_data(cls.step, responses.effective_answers(response))
        return cls(formdata=None, data=data), question, definition
    return cls(), question, definition


def _page(patient: Patient, req: RecordRequest, accept_form=None, decline_form=None,
          problems=None, status: int = 200):
    if accept_form is None:
        accept_form = _value_form(patient, req)[0] or AnswerNoteForm(formdata=None)
    valued = isinstance(accept_form, AcceptValueForm)
    response = responses.submitted_response(patient)
    locale = str(get_locale())
    ctx = {"req": req, "accept_form": accept_form, "valued": valued,
           "question": accept_form.step.questions[0] if valued else None,
           "decline_form": decline_form or DeclineForm(formdata=None),
           "definition": responses.definition_for(response) if response else None,
           "locale": locale, "text": text, "bodymap": bodymap, "anchor": forms.anchor,
           "problems": problems or [], "typed": {}, "question_advice": {}, "shown": {},
           "answers": {}, "overdue": is_overdue(req),
           "about": correcting.subject_label(patient, req.subject, locale)}
    return chart_frame.render("intake", "rights/correction_answer.html",
                              "rights/_correction_answer.html", patient=patient,
                              status=status, **ctx)


def open_correction_requests(patient: Patient) -> dict[str, Any]:
    """For templates/rights/_chart_corrections.html, at the top of the chart's intake tab:
    each request not answered yet, and whether it is overdue."""
    return {"open_corrections": [(req, is_overdue(req))
                                 for req in correcting.requests_of(patient)
                                 if req.answered_at is None]}


@bp.record_once
def _on_the_intake_tab(state) -> None:
    chart_frame.add_to_tab(state.app, "intake", open_correction_requests)


@bp.route("/clinic/patients/<patient_id>/requests/<request_id>")
@staff_required
def correction_answer(patient_id: str, request_id: str):
    patient, req = _request(patient_id, request_id)
    correcting.record_view(req, me())
    return _page(patient, req)


def _already() -> None:
    flash(_("This request was already answered; your answer was not saved. Its answer is "
            "shown below."), "warning")


def _answered(patient: Patient, declined: bool) -> None:
    """How the patient learns the answer: by e-mail, to read it in the portal; by post from
    the clinic when they closed their account (no sign-in, no e-mail: SPEC 11.1)."""
    closed = patient.account_closed_at is not None
    if declined and closed:
        message = _("The request is declined. The patient's account is closed: send them "
                    "your reason by post.")
    elif declined:
        message = _("The request is declined. The patient is told by e-mail to sign in and "
                    "read your reason.")
    elif closed:
        message = _("The record is corrected. The patient's account is closed: send them the "
                    "answer by post.")
    else:
        message = _("The record is corrected. The patient is told by e-mail to sign in and "
                    "read the answer.")
    flash(message, "success")


def _done(patient: Patient, req: RecordRequest):
    return htmx.hx_redirect(url_for("rights.correction_answer", patient_id=patient.public_id,
                                    request_id=req.public_id))


@bp.route("/clinic/patients/<patient_id>/requests/<request_id>/accept", methods=["POST"])
@staff_required
def correction_accept(patient_id: str, request_id: str):
    patient, req = _request(patient_id, request_id)
    if req.answered_at is not None:
        _already()
        return _done(patient, req)
    value_form = _value_form(patient, req, request.form)[0]
    if value_form is None:
        form = AnswerNoteForm()
        valid = form.validate_on_submit()
        if valid and not form.note.data:
            form.note.errors = [_("Say what was corrected: the patient reads it.")]
            valid = False
        if not valid:
            return _page(patient, req, accept_form=form, status=422)
        change = None
    else:
        data = forms.read_step(value_form)
        if data.errors or value_form.note.errors:
            return _page(patient, req, accept_form=value_form, problems=data.errors,
                         status=422)
        change = (value_form.step.number, data)
        form = value_form
    try:
        correcting.accept(req, me(), form.note.data or None, change)
    except correcting.AlreadyAnswered:
        _already()
    except correcting.NotAmendable as refused:
        if refused.unchanged:
            message = _("This is the answer the intake already holds: set the corrected "
                        "value, or decline the request.")
        else:
            names = ", ".join(text(q.label, str(get_locale())) for q in refused.missing)
            message = _("With this change, these questions need an answer too: %(names)s. "
                        "Ask the patient to correct their intake, or decline with that "
                        "reason.", names=names)
        value_form.form_errors.append(message)
        return _page(patient, req, accept_form=value_form, status=422)
    else:
        _answered(patient, declined=False)
    return _done(patient, req)


@bp.route("/clinic/patients/<patient_id>/requests/<request_id>/decline", methods=["POST"])
@staff_required
def correction_decline(patient_id: str, request_id: str):
    patient, req = _request(patient_id, request_id)
    if req.answered_at is not None:
        _already()
        return _done(patient, req)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _page(patient, req, decline_form=form, status=422)
    try:
        correcting.decline(req, me(), form.reason.data)
    except correcting.AlreadyAnswered:
        _already()
    else:
        _answered(patient, declined=True)
    return _done(patient, req)
