"""Flask-WTF forms for the intake, built from the questionnaire definition.

Each step gets a FlaskForm class (CSRF included) with the fields of its questions, which
their types make (portal.intake.types), so the house field macro draws them and WTForms
re-renders what was typed with its errors. The fields only check *format* (length, range,
known options); which questions are required depends on other answers and is decided by the
service (portal.intake.answers).

Field names are the question ids; inputs of compound questions add a suffix:
``pain_map-front.shoulder.right`` (body map), ``psfs-0-activity`` (rows),
``consent_signature-name`` / ``-agree`` (signature). Anything else posted is ignored.
"""
from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

from portal.intake.definitions import Question, Questionnaire, Step
from portal.intake.types import ErrorItem, StepInput
from portal.intake.types.body_map import BodyMap
from portal.intake.types.checks import ChoiceCheck, Needed, TextCheck, clean_text, field_id
from portal.intake.types.rows import Rows
from portal.intake.types.signature import SIGNATURE_NAME_MAX

__all__ = ["SIGNATURE_NAME_MAX", "ChoiceCheck", "ErrorItem", "Needed", "StepInput",
           "TextCheck", "clean_text", "field_id"]

_EDITOR = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
REASON_MAX = 1000


def new_editor() -> str:
    """Names one open page of the form (see IntakeResponse.last_editor)."""
    return secrets.token_urlsafe(12)


# --- building a step's form ---------------------------------------------------------------

class StepForm(FlaskForm):
    """Base of every step form: the revision the page was drawn from (stale-tab check) and
    the page's editor token. The pressed button arrives as ``action``."""
    revision = HiddenField()
    editor = HiddenField()
    action = StringField()

    # Set by step_form_class().
    definition: Questionnaire
    step: Step
    locale: str

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Errors about a compound question as a whole ("mark at least one place").
        self.question_errors: dict[str, list[str]] = {}

    def posted_revision(self) -> int | None:
        value = (self.revision.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 10 else None

    def posted_editor(self) -> str | None:
        value = self.editor.data or ""
        return value if _EDITOR.match(value) else None

    def pressed(self) -> str:
        value = self.action.data or ""
        return value if value in ("next", "back", "save", "later") else "save"


class AmendForm(StepForm):
    reason = TextAreaField(_l("Why are you changing these answers?"),
                           filters=[clean_text], render_kw={"rows": 3})


def anchor(question: Question) -> str:
    """The id a link to this question (error summary, review page) points at."""
    return question.anchor()


def region_field_name(question: BodyMap, code: str) -> str:
    return question.field_name(code)


def row_field_name(question: Rows, index: int, column: str) -> str:
    return question.row_name(index, column)


_CLASSES: dict[tuple, tuple[Questionnaire, type]] = {}


def step_form_class(definition: Questionnaire, step: Step, locale: str, today: date,
                    base: type[StepForm] = StepForm) -> type[StepForm]:
    # The date bounds ("today") are part of the class, so the key includes the day.
    key = (id(definition), step.number, locale, today, base)
    cached = _CLASSES.get(key)
    if cached is not None and cached[0] is definition:
        return cached[1]
    attrs: dict[str, Any] = {"definition": definition, "step": step, "locale": locale}
    for question in step.questions:
        attrs.update(question.form_fields(locale, today))
    cls = type(f"Step{step.number}Form", (base,), attrs)
    if len(_CLASSES) > 500:
        _CLASSES.clear()
    _CLASSES[key] = (definition, cls)
    return cls


def form_data(step: Step, answers: dict[str, Any]) -> dict[str, Any]:
    """Stored answers as the values of the step's fields (to draw the form)."""
    data: dict[str, Any] = {}
    for question in step.questions:
        value = answers.get(question.id)
        if value is not None:
            data.update(question.form_values(value))
    return data


# --- reading a posted step ----------------------------------------------------------------

def read_step(form: StepForm) -> StepInput:
    """Run the format checks and collect the answers of a posted step."""
    form.validate()
    out = StepInput()
    for question in form.step.questions:
        question.read(form, out)
    return out


def required_message(question: Question) -> str:
    return question.required_message()


def add_required_errors(form: StepForm, questions: list[Question], out: StepInput) -> None:
    """Show "please answer" by each required question left empty."""
    for question in questions:
        message = question.required_message()
        target_field = question.first_field(form)
        if target_field is None:
            form.question_errors.setdefault(question.id, []).append(message)
        elif not target_field.errors:
            target_field.errors = [message]
        out.fail(question, form.locale, message)


# --- other forms --------------------------------------------------------------------------

class SubmitForm(FlaskForm):
    revision = HiddenField()

    def posted_revision(self) -> int | None:
        value = (self.revision.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 10 else None


class ConsentForm(FlaskForm):
    """Signing a new consent version after the intake was sent."""
    name = StringField(_l("Type your full name"), filters=[clean_text],
                       render_kw={"autocomplete": "name"},
                       validators=[TextCheck(SIGNATURE_NAME_MAX)])
    agree = BooleanField(_l("I have read this consent and I agree to IMS treatment."))

    def validate_name(self, field):
        if not field.data:
            raise ValidationError(_("Type your full name to sign."))

    def validate_agree(self, field):
        if not field.data:
            raise ValidationError(_("Tick the box to say that you agree."))


class ReviewForm(FlaskForm):
    """Marking a sent intake reviewed; with red flags the note is required (the review
    acknowledges them, SPEC 5.1: portal/intake/staff.py)."""
    note = TextAreaField(_l("Your note"), render_kw={"rows": 3})
