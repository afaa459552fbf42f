from __future__ import annotations

import re
import zoneinfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from portal import audit_words
from portal.auth.forms import InviteForm
from portal.forms import WholeNumberField, plausible_date

# Canadian zones first: the clinics are Canadian; every IANA zone is accepted.
CANADIAN_ZONES = ["America/Vancouver", "America/Edmonton", "America/Regina",
                  "America/Winnipeg", "America/Toronto", "America/Halifax",
                  "America/St_Johns", "America/Whitehorse"]


def timezone_choices() -> list[SelectChoice]:
    others = sorted(z for z in zoneinfo.available_timezones()
                    if "/" in z and not z.startswith(("Etc/", "SystemV/"))
                    and z not in CANADIAN_ZONES)
    return [SelectChoice(z, z.replace("_", " ")) for z in CANADIAN_ZONES + others]


class StaffInviteForm(InviteForm):
    role = SelectField(_l("Role"),
                       choices=[SelectChoice("practitioner", _l("Practitioner")),
                                SelectChoice("admin", _l("Administrator (also a practitioner)"))],
                       default="practitioner")


# A telephone number as people write it: digits, spaces, "+", "-", ".", parentheses, and an
# extension ("ext. 12", "x12", "poste 12"); 7 to 20 digits in all.
_PHONE = re.compile(r"\+?[\d\s().-]+(?:\s*(?:ext\.?|x|poste)\s*\d{1,6})?", re.IGNORECASE)
PHONE_DIGITS = (7, 20)


def _squeezed(value: str | None) -> str | None:
    return " ".join(value.split()) if value else value


def plausible_phone(_form, field) -> None:
    if not field.data:
        return
    digits = sum(c.isdigit() for c in field.data)
    if not (field.data.isascii() and _PHONE.fullmatch(field.data)
            and PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]):
        raise ValidationError(_l("Enter a telephone number like 604-555-0123 or "
                                 "+1 604 555 0123 ext. 12."))


class SettingsForm(FlaskForm):
    # Its own id: the staff invitation form on the same page has a "name" field too, and two
    # id="name" would give the clinic's name field no label.
    name = StringField(_l("Clinic name"),
                       validators=[DataRequired(_l("Enter the clinic's name.")), Length(max=200)],
                       filters=[_squeezed], id="clinic-name")
    phone = StringField(_l("Clinic telephone"), validators=[Optional(), plausible_phone],
                        filters=[_squeezed], id="clinic-phone",
                        render_kw={"type": "tel", "autocomplete": "off", "spellcheck": "false"})
    address = StringField(_l("Clinic address"),
                          validators=[Optional(), Length(max=300, message=_l(
                              "Keep the address to 300 characters or fewer."))],
                          filters=[_squeezed], id="clinic-address",
                          render_kw={"autocomplete": "off"})
    # Each language named in itself, whatever the page's language.
    locale = SelectField(_l("Default language"),
                         choices=[SelectChoice("en", "English"),
                                  SelectChoice("fr_CA", "Français")],
                         default="en", id="clinic-locale")
    timezone = SelectField(_l("Time zone"), choices=timezone_choices)
    self_registration = BooleanField(
        _l("Patients may create their own account (with e-mail confirmation)"))
    logo = FileField(_l("Logo (optional)"), id="clinic-logo",
                     render_kw={"accept": "image/png,image/jpeg"})
    # SPEC 11.2: the College of Physiotherapists of Ontario's Record Keeping Standard keeps
    # records at least 10 years after the last visit; other provinces differ.
    retention_years = WholeNumberField(
        _l("Keep records for (years after the last visit)"),
        validators=[InputRequired(_l("Enter a number of years, from 1 to 100.")),
                    NumberRange(1, 100, _l("Enter a number of years, from 1 to 100."))],
        default=10, render_kw={"inputmode": "numeric", "autocomplete": "off"})
    # SPEC 12.1: follow-ups after discharge; empty turns one off.
    follow_up_first_weeks = WholeNumberField(
        _l("First follow-up after discharge (weeks)"),
        validators=[Optional(), NumberRange(1, 104, _l("Enter a number of weeks, from 1 to "
                                                       "104, or leave it empty."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    follow_up_second_weeks = WholeNumberField(
        _l("Second follow-up after discharge (weeks)"),
        validators=[Optional(), NumberRange(1, 104, _l("Enter a number of weeks, from 1 to "
                                                       "104, or leave it empty."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})

    def validate_follow_up_second_weeks(self, field) -> None:
        first = self.follow_up_first_weeks.data
        if field.data is not None and first is not None and field.data <= first:
            raise ValidationError(_l("The second follow-up must come after the first."))


class ResendMailForm(FlaskForm):
    """"Send again", for one undelivered e-mail or for all of them: a button and its CSRF
    token (which message is in the address)."""


class AuditSearchForm(FlaskForm):
    """A GET search (bookmarkable, nothing changes): no CSRF token."""

    class Meta:
        csrf = False

    patient = StringField(_l("Patient"), validators=[Optional(), Length(max=254)],
                          render_kw={"spellcheck": "false", "autocomplete": "off"})
    actor = StringField(_l("Done by (e-mail)"), validators=[Optional(), Length(max=254)],
                        render_kw={"spellcheck": "false", "autocomplete": "off",
                                   "autocapitalize": "none"})
    action = SelectField(_l("Action"), validators=[Optional()], validate_choice=False)
    date_from = DateField(_l("From"), validators=[Optional(), plausible_date])
    date_to = DateField(_l("To"), validators=[Optional(), plausible_date])

    def set_actions(self, actions: list[str]) -> None:
        named = sorted((SelectChoice(a, audit_words.action_label(a)) for a in actions),
                       key=lambda choice: choice.label.casefold())
        self.action.choices = [SelectChoice("", _l("Any action")), *named]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end of the period is before its start."))
