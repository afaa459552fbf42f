"""The patient chart's forms (SPEC 5.3). Discharge takes a coded reason, which the audit log
keeps (no free text: the log holds no health data); re-admitting and resending an invitation
are button-only posts (portal.forms.EmptyForm). The consent discussion's note is the
practitioner's words: kept with the discussion, never in the audit log."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.forms import plausible_date


def discharge_reason_labels() -> dict[str, str]:
    """One label for each of portal.models.DISCHARGE_REASONS."""
    return {"completed": _l("Treatment completed"),
            "patient_request": _l("At the patient's request"),
            "referred": _l("Referred elsewhere"),
            "no_contact": _l("No longer in contact"),
            "moved_away": _l("Moved away"),
            "deceased": _l("Deceased"),
            "other": _l("Another reason")}


class DischargeForm(FlaskForm):
    reason = SelectField(_l("Reason for discharge"),
                         validators=[DataRequired(_l("Choose the reason for discharge."))])

    def __init__(self, *args, **kwargs):
        # Its fields sit beside other forms on every tab: a prefix keeps their ids apart.
        kwargs.setdefault("prefix", "discharge")
        super().__init__(*args, **kwargs)
        self.reason.choices = [("", _l("Choose a reason")),
                               *discharge_reason_labels().items()]


class ConsentDiscussionForm(FlaskForm):
    """The practitioner's record of the consent discussion (SPEC 4.1): when it took place,
    the three things informed consent needs (CPTA Consent Guide: benefits, risks and other
    options explained; the chance to ask questions; the patient's agreement), each ticked,
    and an optional note. The rules on the time (not in the future, not before the patient
    signed) are the service's (portal.intake.consent.record_discussion)."""
    day = DateField(_l("Date of the discussion"),
                    validators=[InputRequired(_l("Enter the date of the discussion.")),
                                plausible_date])
    time = TimeField(_l("Time"),
                     validators=[InputRequired(_l("Enter the time of the discussion."))])
    explained = BooleanField(_l("I explained the risks, the benefits and the alternatives."),
                             validators=[DataRequired(_l("Tick this box once you have explained "
                                                         "the risks, benefits and "
                                                         "alternatives."))])
    questions = BooleanField(_l("I answered the patient's questions."),
                             validators=[DataRequired(_l("Tick this box once the patient's "
                                                         "questions are answered."))])
    agrees = BooleanField(_l("The patient agrees to IMS treatment."),
                          validators=[DataRequired(_l("Tick this box only if the patient "
                                                      "agrees to IMS treatment."))])
    note = TextAreaField(_l("Note (optional)"),
                         validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})

    def __init__(self, *args, **kwargs):
        # Drawn in the chart's header beside the discharge form: a prefix keeps ids apart.
        kwargs.setdefault("prefix", "consent")
        super().__init__(*args, **kwargs)
