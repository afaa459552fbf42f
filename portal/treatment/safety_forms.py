"""Forms of the safety check, the patient's problem report and the clinic's acknowledgement
(SPEC 4.2, 5.1; portal/treatment/safety.py). The signs are real checkboxes in a fieldset
(the choice_group macro), so they work with a keyboard, a screen reader and without
JavaScript; "None of these" is a button of its own."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.treatment import safety


class SymptomsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        # An unknown code is refused by the service (SafetyError "symptoms"), never stored.
        pass


def _symptoms(label) -> SymptomsField:
    return SymptomsField(label, choices=[SelectChoice(code, text) for code, text
                                         in safety.symptom_labels().items()],
                         validators=[Optional()])


class SafetyCheckForm(FlaskForm):
    """One per session on the home page: build it with ``prefix`` (the session's id) so
    that two cards never share a field id."""
    symptoms = _symptoms(_l("Since this session, have you had any of these?"))
    # "some" (the send button) or "none" (the "None of these" button).
    answer = HiddenField()

    def chosen(self) -> list[str]:
        return list(self.symptoms.data or [])


class ProblemForm(FlaskForm):
    symptoms = _symptoms(_l("Do you have any of these now?"))
    comment = TextAreaField(_l("Something else? Tell us what is happening (optional)"),
                            validators=[Optional(), Length(max=safety.COMMENT_MAX)],
                            render_kw={"rows": 4})


class AcknowledgeForm(FlaskForm):
    note = TextAreaField(_l("Your note (required)"),
                         validators=[Length(max=safety.NOTE_MAX)], render_kw={"rows": 2})
