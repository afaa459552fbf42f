"""The patient's intake pages after it was sent: correcting an answer (SPEC 2.6), and signing
a new consent version, or signing again after a withdrawal (SPEC 2.3)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import htmx
from portal.intake import bp, forms, services
from portal.intake import consent as consents
from portal.intake.definitions import Questionnaire, Step, text
from portal.intake.views import (
    blank_form,
    current_values,
    form_class,
    page_locale,
    patient_intake,
    question_step,
    request_client,
    step_context,
)
from portal.models import Patient

# --- corrections after submission ---------------------------------------------------------

def _amendable_step(definition: Questionnaire, step_no: int) -> Step:
    step = question_step(definition, step_no)
    if step.kind != "questions" or any(q.type == "signature" for q in step.questions):
        abort(404)  # the consent is signed again on its own page, never amended
    return step


@bp.route("/me/intake/amend/<int:step>", methods=["GET", "POST"])
@patient_intake
def amend(patient: Patient, step: int):
    response = services.submitted_response(patient)
    if response is None:
        return redirect(url_for("intake.resume"))
    definition = services.definition_for(response)
    step_def = _amendable_step(definition, step)
    current = services.effective_answers(response)
    problems: list[forms.ErrorItem] = []
    if request.method == "POST":
        form = form_class(definition, step_def, forms.AmendForm)()
        data = forms.read_step(form)
        reason = form.reason.data or ""
        problems = list(data.errors) + _reason_problems(form, reason)
        if not problems:
            result = services.amend(patient, current_user._get_current_object(), response,
                                    step, data, reason)
            if result.unchanged:
                flash(_("Nothing was changed."), "warning")
                return htmx.hx_redirect(url_for("intake.summary"))
            if result.amendment is not None:
                flash(_("Your correction is saved. Your practitioner will see it, and your "
                        "original answers are kept."), "success")
                return htmx.hx_redirect(url_for("intake.summary"))
            forms.add_required_errors(form, result.missing, data)
            problems = data.errors
    else:
        form = blank_form(definition, step_def, current, response.revision,
                           base=forms.AmendForm)
    ctx = step_context(patient, response, definition, step_def, form, problems=problems,
                        amending=True, autosave=False)
    ctx["answers"] = current
    return htmx.render("intake/amend.html", status=422 if problems else 200,
                       shown=current_values(form, step_def), **ctx)


def _reason_problems(form, reason: str) -> list[forms.ErrorItem]:
    """A correction says why, in a few words (shown by the field and in the summary)."""
    if not reason:
        form.reason.errors = [_("Tell your clinic in a few words why you are changing "
                                "your answers.")]
    elif len(reason) > forms.REASON_MAX:
        form.reason.errors = [_("Use at most %(max)d characters. This answer has "
                                "%(count)d.", max=forms.REASON_MAX, count=len(reason))]
    return [forms.ErrorItem(form.reason.id, str(form.reason.label.text), form.reason.errors[0])
            ] if form.reason.errors else []


# --- a new consent version ----------------------------------------------------------------

@bp.route("/me/intake/consent", methods=["GET", "POST"])
@patient_intake
def consent(patient: Patient):
    """Sign the current consent when the clinic published a new version, or again after
    withdrawing it (SPEC 2.3); read the signed one, with the way to withdraw it."""
    current = consents.current_consent()
    existing = consents.signature(patient, current)
    form = forms.ConsentForm()
    if request.method == "POST" and existing is None:
        if form.validate():
            services.sign_current_consent(patient, form.name.data, page_locale(), request_client())
            flash(_("Thank you. Your consent is signed."), "success")
            return htmx.hx_redirect(url_for("patient.home"))
    status = 422 if form.errors else 200
    latest = consents.latest_signature(patient)
    return htmx.render("intake/consent.html", status=status, form=form, consent=current,
                       signature=existing, locale=page_locale(), text=text,
                       withdrawn=latest if latest is not None and latest.withdrawn_at else None)
