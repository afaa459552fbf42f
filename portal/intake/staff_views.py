"""The practitioner's reading of a patient's intake (SPEC 2.7, 5.3): answers, flags with
their details, scores and signatures, in the chart; marking it reviewed."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import chart_frame, htmx
from portal.intake import bodymap, bp, display, services
from portal.intake import consent as consents
from portal.intake.definitions import text
from portal.intake.forms import ReviewForm
from portal.intake.review_views import answer_sections
from portal.intake.views import page_locale
from portal.models import Patient
from portal.security import patient_for, staff_required


def _staff_context(patient: Patient, review_form: ReviewForm | None = None) -> dict[str, Any]:
    response = services.response_for(patient)
    ctx: dict[str, Any] = {
        "patient": patient, "response": response, "locale": page_locale(), "text": text,
        "bodymap": bodymap, "review_form": review_form or ReviewForm(formdata=None),
        "signatures": [], "flags": [], "scores": {}, "sections": [], "definition": None,
        "state": services.state(patient)}
    if response is not None and response.submitted:
        definition = services.definition_for(response)
        answers = services.effective_answers(response)
        flags = []
        flagged: dict[str, str] = {}
        for stored in services.effective_flags(response):
            flag = definition.flag(stored["code"])
            if flag is None:
                continue
            if flagged.get(flag.when.question) != "red_flag":
                flagged[flag.when.question] = flag.kind
            details = [(text(definition.questions[qid].label, ctx["locale"]),
                        display.lines(definition.questions[qid], answers.get(qid),
                                      ctx["locale"])) for qid in flag.details]
            flags.append({"flag": flag, "label": text(flag.label, ctx["locale"]),
                          "details": [d for d in details if d[1]]})
        ctx.update(definition=definition, flags=flags,
                   scores=services.effective_scores(response),
                   sections=answer_sections(definition, answers, response, flagged),
                   signatures=consents.signatures(patient),
                   discussions=consents.discussions(patient),
                   consent_current=consents.has_current_consent(patient))
    return ctx


@bp.route("/clinic/patients/<patient_id>/intake")
@staff_required
def staff_view(patient_id: str):
    patient = patient_for(current_user, patient_id)
    ctx = _staff_context(patient)
    services.record_view(ctx["response"], patient, current_user._get_current_object())
    return chart_frame.render("intake", "intake/staff.html", "intake/_staff_intake.html",
                             **ctx)


@bp.route("/clinic/patients/<patient_id>/intake/reviewed", methods=["POST"])
@staff_required
def mark_reviewed(patient_id: str):
    patient = patient_for(current_user, patient_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    response = services.submitted_response(patient)
    if response is None:
        abort(404)
    try:
        reviewed = services.mark_reviewed(response, current_user._get_current_object(),
                                          form.note.data)
    except services.ReviewNoteNeeded:
        form.note.errors = [review_note_error()]
        return chart_frame.render("intake", "intake/staff.html", "intake/_staff_intake.html",
                                  status=422, **_staff_context(patient, form))
    if reviewed:
        flash(_("Intake marked as reviewed."), "success")
    else:
        flash(_("This intake was already reviewed."), "warning")
    return htmx.hx_redirect(url_for("intake.staff_view", patient_id=patient.public_id))


def review_note_error() -> str:
    return _("This intake has red flags: write a note of at least %(min)d characters (at "
             "most %(max)d) saying what you did about them.", min=services.REVIEW_NOTE_MIN,
             max=services.REVIEW_NOTE_MAX)
