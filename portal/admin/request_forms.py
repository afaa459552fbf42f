"""The forms of the requests register (SPEC 11.2): its filters, a request received outside
the portal, an access request answered, a due date extended."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal import clock
from portal.forms import plausible_date
from portal.intake.types.checks import clean_text
from portal.treatment.times import clinic_date

DETAIL_MAX = 2000
REASON_MIN, REASON_MAX = 3, 1000


def _kinds(blank=None) -> list[SelectChoice]:
    out = [SelectChoice("access", _l("Access to the record")),
           SelectChoice("correction", _l("Correction"))]
    return ([SelectChoice("", blank)] if blank else []) + out


class RegisterFilterForm(FlaskForm):
    """Sent by GET (bookmarkable): no CSRF token."""
    class Meta:
        csrf = False

    state = SelectField(_l("Show"), choices=[
        SelectChoice("open", _l("Open (not answered)")),
        SelectChoice("overdue", _l("Overdue")), SelectChoice("all", _l("All"))],
        validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=_kinds(_l("Every kind")), validators=[Optional()])


def not_in_the_future(_form, field) -> None:
    if field.data and field.data > clinic_date(clock.now()):
        raise ValidationError(_l("This date is in the future."))


class RequestEntryForm(FlaskForm):
    patient = StringField(_l("Patient"), filters=[clean_text],
                          validators=[DataRequired(_l("Enter the patient's id, e-mail address "
                                                      "or name.")), Length(max=200)])
    kind = SelectField(_l("Kind of request"), choices=_kinds())
    received_on = DateField(_l("Received on"), validators=[
        DataRequired(_l("Enter the date the clinic received the request.")), plausible_date,
        not_in_the_future])
    detail = TextAreaField(_l("What the patient asks"), filters=[clean_text],
                           validators=[Length(max=DETAIL_MAX, message=_l(
                               "Use at most %(max)d characters."))],
                           render_kw={"rows": 4})
    # The patient picked from the list offered when several match (radio buttons in the
    # same form, so that what was typed in the other fields is sent again with it).
    chosen = RadioField(_l("Choose the patient"), choices=[], validate_choice=False,
                        validators=[Optional()])


class ProvidedForm(FlaskForm):
    provided_on = DateField(_l("Record provided on"), validators=[
        DataRequired(_l("Enter the date the record was given.")), plausible_date,
        not_in_the_future])


class ExtendForm(FlaskForm):
    reason = TextAreaField(_l("Reason for more time"), filters=[clean_text], validators=[
        DataRequired(_l("Write the reason: the patient is told.")),
        Length(min=REASON_MIN, max=REASON_MAX,
               message=_l("Write between %(min)d and %(max)d characters."))],
        render_kw={"rows": 3})

