"""The forms of correction requests: the patient's request, and the practitioner's answer."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.intake.forms import StepForm
from portal.intake.types.checks import clean_text
from portal.rights.confirm import PasswordForm
from portal.rights.correcting import DETAIL_MAX, RESPONSE_MAX, RESPONSE_MIN

GENERAL = "general"


class CorrectionRequestForm(PasswordForm):
    """``subject`` choices are set per patient: their answered questions, and "in general"."""
    subject = SelectField(_l("What is wrong?"), validate_choice=False)
    detail = TextAreaField(_l("What should it say instead?"), filters=[clean_text],
                           validators=[DataRequired(_l("Write what should change.")),
                                       Length(max=DETAIL_MAX, message=_l(
                                           "Use at most %(max)d characters."))],
                           render_kw={"rows": 5, "maxlength": DETAIL_MAX})
    password = PasswordField(_l("Your password"),
                             validators=[DataRequired(_l("Enter your password.")),
                                         Length(max=256)],
                             render_kw={"autocomplete": "current-password"})

    def set_choices(self, questions: list[tuple[str, str]]) -> None:
        self.subject.choices = [(GENERAL, str(_l("Something else, or my record in general")))]
        self.subject.choices += questions

    def validate_subject(self, field):
        if field.data not in {key for key, _label in field.choices or []}:
            raise ValidationError(_l("Choose what your request is about."))

    def chosen_subject(self) -> str | None:
        return None if self.subject.data == GENERAL else self.subject.data


class AnswerNoteForm(FlaskForm):
    """The practitioner's note with an accepted correction, read by the patient: optional
    with an amendment of an answer, required for a request in general (it is the answer)."""
    note = TextAreaField(_l("Note to the patient"), filters=[clean_text],
                         validators=[Length(max=RESPONSE_MAX, message=_l(
                             "Use at most %(max)d characters."))],
                         render_kw={"rows": 3})


class AcceptValueForm(StepForm):
    """Base of the value form of one question (portal.rights.correcting.value_form_class)."""
    note = AnswerNoteForm.note


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Why the record stays as it is"), filters=[clean_text],
                           validators=[DataRequired(_l("Write the reason: the patient reads "
                                                       "it.")),
                                       Length(min=RESPONSE_MIN, max=RESPONSE_MAX, message=_l(
                                           "Write between %(min)d and %(max)d characters."))],
                           render_kw={"rows": 4})
