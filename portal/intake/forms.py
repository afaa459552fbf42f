"""Flask-WTF forms for the intake, built from the questionnaire definition.

Each step gets a FlaskForm class (CSRF included) with one field per input of its questions,
so the house field macro draws them and WTForms re-renders what was typed with its errors.
The fields only check *format* (length, range, known options); which questions are
required depends on other answers and is decided by the service (portal.intake.answers).

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
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal.intake import bodymap
from portal.intake.answers import date_bound
from portal.intake.definitions import Question, Questionnaire, Step, text
from portal.intake.types import Question as QuestionType
from portal.intake.types.base import ErrorItem, StepInput
from portal.intake.types.checks import ChoiceCheck, Needed, TextCheck, clean_text, field_id

__all__ = ["ChoiceCheck", "ErrorItem", "Needed", "StepInput", "TextCheck", "clean_text", "field_id"]

_INT = re.compile(r"^[+-]?\d{1,7}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EDITOR = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
SIGNATURE_NAME_MAX = 200
REASON_MAX = 1000


def new_editor() -> str:
    """Names one open page of the form (see IntakeResponse.last_editor)."""
    return secrets.token_urlsafe(12)


# --- format checks (each lets an empty value through: required is decided elsewhere) -------

class DateCheck:
    def __init__(self, low: str, high: str, today: date):
        self.low, self.high = date_bound(low, today), date_bound(high, today)
        self.future = high == "today"

    def __call__(self, form, field):
        value = field.data or ""
        if not value:
            return
        try:
            if not _DATE.match(value):
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            raise ValidationError(_("Enter a real date as year-month-day, for example "
                                    "1956-03-21.")) from None
        if day > self.high and self.future:
            raise ValidationError(_("The date cannot be in the future."))
        if not self.low <= day <= self.high:
            raise ValidationError(_("Enter a date from %(low)s to %(high)s.",
                                    low=self.low.isoformat(), high=self.high.isoformat()))


class IntCheck:
    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, form, field):
        value = (field.data or "").strip()
        if not value:
            return
        if not _INT.match(value) or not self.low <= int(value) <= self.high:
            raise ValidationError(_("Enter a whole number from %(low)d to %(high)d.",
                                    low=self.low, high=self.high))


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
    if isinstance(question, QuestionType):
        return question.anchor()
    if question.type in ("single_choice", "yes_no", "scale", "multiple_choice"):
        return field_id(question.id) + "-0"
    if question.type == "rows":
        return field_id(question.id, "0", question.columns[0].id)
    if question.type == "signature":
        return field_id(question.id, "name")
    return field_id(question.id)


def _intensity_choices(empty_label: str) -> list[SelectChoice]:
    return [SelectChoice("", empty_label)] + [SelectChoice(str(i), str(i)) for i in range(11)]


def region_field_name(question: Question, code: str) -> str:
    return f"{question.id}-{code}"


def row_field_name(question: Question, index: int, column: str) -> str:
    return f"{question.id}-{index}-{column}"


def _marked(question: Question, check) -> list:
    return [Needed(), check] if question.required else [check]


def _question_fields(question: Question, locale: str, today: date) -> dict[str, Any]:
    if isinstance(question, QuestionType):
        return question.form_fields(locale, today)
    label = text(question.label, locale)
    qid = question.id
    kind = question.type
    if kind == "scale":
        choices = [SelectChoice(str(i), str(i)) for i in range(11)]
        values = tuple(c.value for c in choices)
        return {qid: RadioField(label, id=field_id(qid), choices=choices, validate_choice=False,
                                validators=[ChoiceCheck(values, _l("Choose a number from 0 to "
                                                                   "10."))])}
    if kind == "date":
        render_kw = {"type": "date", "min": date_bound(question.min, today).isoformat(),
                     "max": date_bound(question.max, today).isoformat()}
        if question.autocomplete:
            render_kw["autocomplete"] = question.autocomplete
        return {qid: StringField(label, id=field_id(qid), filters=[clean_text],
                                 render_kw=render_kw,
                                 validators=_marked(question, DateCheck(question.min,
                                                                        question.max, today)))}
    if kind == "number":
        return {qid: StringField(label, id=field_id(qid), filters=[clean_text],
                                 render_kw={"inputmode": "numeric", "autocomplete": "off"},
                                 validators=_marked(question, IntCheck(question.min, question.max)))}
    if kind == "body_map":
        values = tuple(str(i) for i in range(11))
        fields = {}
        for region in bodymap.regions():
            name = region_field_name(question, region.code)
            fields[name] = SelectField(region.label(locale), name=name,
                                       id=field_id(qid, region.code),
                                       choices=_intensity_choices(_l("Not marked")),
                                       validate_choice=False,
                                       validators=[ChoiceCheck(values, _l("Choose a number "
                                                                          "from 0 to 10."))])
        return fields
    if kind == "rows":
        fields = {}
        for i in range(question.max_rows):
            for column in question.columns:
                name = row_field_name(question, i, column.id)
                col_label = text(column.label, locale)
                if column.type == "short_text":
                    fields[name] = StringField(col_label, name=name,
                                               id=field_id(qid, str(i), column.id),
                                               filters=[clean_text],
                                               validators=[TextCheck(column.max_length)])
                else:
                    fields[name] = SelectField(
                        col_label, name=name, id=field_id(qid, str(i), column.id),
                        choices=_intensity_choices(_l("Choose")), validate_choice=False,
                        validators=[ChoiceCheck(tuple(str(v) for v in range(11)),
                                                _l("Choose a number from 0 to 10."))])
        return fields
    if kind == "signature":
        return {
            f"{qid}-name": StringField(_l("Type your full name"), name=f"{qid}-name",
                                       id=field_id(qid, "name"), filters=[clean_text],
                                       render_kw={"autocomplete": "name"},
                                       validators=[TextCheck(SIGNATURE_NAME_MAX)]),
            f"{qid}-agree": BooleanField(_l("I have read this consent and I agree to IMS "
                                            "treatment."), name=f"{qid}-agree",
                                         id=field_id(qid, "agree")),
        }
    raise ValueError(f"no form field for question type {kind}")


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
        attrs.update(_question_fields(question, locale, today))
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
        if value is None:
            continue
        if isinstance(question, QuestionType):
            data.update(question.form_values(value))
            continue
        kind = question.type
        if kind in ("scale", "number"):
            data[question.id] = str(value)
        elif kind == "body_map":
            for code, intensity in value.items():
                data[region_field_name(question, code)] = str(intensity)
        elif kind == "rows":
            for i, row in enumerate(value):
                for column in question.columns:
                    cell = row.get(column.id)
                    data[row_field_name(question, i, column.id)] = \
                        "" if cell is None else str(cell)
        elif kind == "signature":
            data[f"{question.id}-name"] = value.get("name")
            data[f"{question.id}-agree"] = True
        else:
            data[question.id] = value
    return data


# --- reading a posted step ----------------------------------------------------------------

def read_step(form: StepForm) -> StepInput:
    """Run the format checks and collect the answers of a posted step."""
    form.validate()
    out = StepInput()
    for question in form.step.questions:
        _read_question(form, question, out)
    return out


def _fail(out: StepInput, form: StepForm, question: Question, message: str,
          target: str | None = None) -> None:
    out.errors.append(ErrorItem(target or anchor(question), text(question.label, form.locale),
                                str(message)))


def _read_question(form: StepForm, question: Question, out: StepInput) -> None:
    if isinstance(question, QuestionType):
        question.read(form, out)
        return
    kind, qid = question.type, question.id
    if kind in ("date", "scale", "number"):
        f = form[qid]
        if f.errors:
            _fail(out, form, question, f.errors[0])
            return
        value = f.data
        if kind in ("scale", "number"):
            out.values[qid] = int(value) if value not in (None, "") else None
        else:
            out.values[qid] = value or None
        return
    if kind == "body_map":
        marks, bad = {}, False
        for region in bodymap.regions():
            f = form[region_field_name(question, region.code)]
            if f.errors:
                bad = True
                _fail(out, form, question, f"{f.label.text}: {f.errors[0]}", f.id)
            elif f.data not in (None, ""):
                marks[region.code] = int(f.data)
        if not bad:
            out.values[qid] = marks or None
        return
    if kind == "rows":
        rows, bad = [], False
        name_col = next(c for c in question.columns if c.type == "short_text")
        for i in range(question.max_rows):
            cells = {c.id: form[row_field_name(question, i, c.id)] for c in question.columns}
            if any(f.errors for f in cells.values()):
                bad = True
                for f in cells.values():
                    if f.errors:
                        _fail(out, form, question, f"{f.label.text} {i + 1}: {f.errors[0]}",
                              f.id)
                continue
            filled = {cid: f.data for cid, f in cells.items() if f.data not in (None, "")}
            if not filled:
                continue
            if len(filled) < len(cells):
                bad = True
                for cid, f in cells.items():
                    if cid not in filled:
                        message = (_("Name the activity you rated.") if cid == name_col.id
                                   else _("Give this activity a number from 0 to 10."))
                        f.errors = [message]
                        _fail(out, form, question, message, f.id)
                continue
            rows.append({c.id: (int(filled[c.id]) if c.type == "scale" else filled[c.id])
                         for c in question.columns})
        if not bad:
            out.values[qid] = rows or None
        return
    if kind == "signature":
        name_f, agree_f = form[f"{qid}-name"], form[f"{qid}-agree"]
        if name_f.errors:
            _fail(out, form, question, name_f.errors[0], name_f.id)
            return
        name, agreed = name_f.data or "", bool(agree_f.data)
        if name and not agreed:
            agree_f.errors = [_("Tick the box to say that you agree.")]
            _fail(out, form, question, agree_f.errors[0], agree_f.id)
        elif agreed and not name:
            name_f.errors = [_("Type your full name to sign.")]
            _fail(out, form, question, name_f.errors[0], name_f.id)
        elif name and agreed:
            out.signature_name = name
        return
    raise ValueError(f"cannot read question type {kind}")


def required_message(question: Question) -> str:
    if isinstance(question, QuestionType):
        return question.required_message()
    if question.type == "body_map":
        return _("Mark at least one place where you feel pain.")
    if question.type == "rows":
        return _("Name at least one activity and give it a number.")
    if question.type == "signature":
        return _("Type your full name and tick the box to sign.")
    if question.type in ("single_choice", "yes_no", "scale", "multiple_choice"):
        return _("Choose an answer.")
    return _("Please answer this question.")


def add_required_errors(form: StepForm, questions: list[Question], out: StepInput) -> None:
    """Show "please answer" by each required question left empty."""
    for question in questions:
        message = required_message(question)
        target_field = _first_field(form, question)
        if target_field is None:
            form.question_errors.setdefault(question.id, []).append(message)
        elif not target_field.errors:
            target_field.errors = [message]
        _fail(out, form, question, message)


def _first_field(form: StepForm, question: Question):
    if isinstance(question, QuestionType):
        return question.first_field(form)
    if question.type in ("body_map",):
        return None
    if question.type == "rows":
        return form[row_field_name(question, 0, question.columns[0].id)]
    if question.type == "signature":
        return form[f"{question.id}-name"]
    return form[question.id]


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
