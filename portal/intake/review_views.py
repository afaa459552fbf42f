"""The intake's review step, sending it (SPEC 2.6) and the sent intake's summary."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from portal import htmx
from portal.intake import bodymap, bp, display, forms, services
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.answers import visible
from portal.intake.definitions import Questionnaire, text
from portal.intake.views import (
    page_locale,
    patient_intake,
)
from portal.models import Patient


def answer_sections(definition: Questionnaire, answers: dict, response=None,
                     flagged: dict[str, str] | None = None) -> list[dict]:
    """Steps with their questions' answers as lines, for the review and read-only pages.
    ``flagged``: question id -> the kind of flag its answer raised (staff view)."""
    locale = page_locale()
    amended = services.amended_questions(response) if response is not None else {}
    sections = []
    for step in definition.steps:
        if step.kind != "questions":
            continue
        rows = []
        for question in step.questions:
            if not visible(definition, question, answers):
                continue
            rows.append({"question": question, "label": text(question.label, locale),
                         "lines": display.lines(question, answers.get(question.id), locale),
                         "value": answers.get(question.id), "anchor": forms.anchor(question),
                         "amendments": amended.get(question.id, []),
                         "flag": (flagged or {}).get(question.id)})
        sections.append({"step": step, "title": text(step.title, locale), "rows": rows})
    return sections


def review_page(patient: Patient, response, definition: Questionnaire, status: int = 200,
            notice: str | None = None):
    answers = response.answers if response else {}
    missing = services.missing_answers(response)
    locale = page_locale()
    return htmx.render(
        "intake/review.html", status=status, definition=definition,
        step=definition.review_step, response=response, locale=locale, text=text,
        sections=answer_sections(definition, answers), anchor=forms.anchor,
        missing=missing, notice=notice, bodymap=bodymap,
        form=forms.SubmitForm(formdata=None,
                              data={"revision": str(response.revision if response else 0)}),
        advice=[definition.advice[level]
                for level in flag_rules.advice_levels(definition, answers)])


@bp.route("/me/intake/submit", methods=["POST"])
@patient_intake
def submit(patient: Patient):
    form = forms.SubmitForm()
    form.validate()
    result = services.submit(patient, form.posted_revision())
    if result.submitted_now:
        flash(_("Thank you. Your questionnaire is sent to your clinic."), "success")
        return htmx.hx_redirect(url_for("intake.summary"))
    if result.already:
        return htmx.hx_redirect(url_for("intake.summary"))
    definition = services.definition_for(result.response)
    if result.conflict:
        return review_page(patient, result.response, definition, status=409, notice="conflict")
    return review_page(patient, result.response, definition, status=422, notice="missing")


@bp.route("/me/intake/summary")
@patient_intake
def summary(patient: Patient):
    """The sent questionnaire, read-only and printable (SPEC 2.6)."""
    response = services.submitted_response(patient)
    if response is None:
        return redirect(url_for("intake.resume"))
    definition = services.definition_for(response)
    answers = services.effective_answers(response)
    return htmx.render("intake/summary.html", definition=definition, response=response,
                       locale=page_locale(), text=text, bodymap=bodymap,
                       sections=answer_sections(definition, answers, response),
                       signature=consents.latest_signature(patient),
                       consent_current=consents.has_current_consent(patient),
                       advice=[definition.advice[level] for level in
                               flag_rules.advice_levels(definition, answers)])
