"""The clinic outcomes' filters (SPEC 5.4)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from portal.forms import plausible_date


class OutcomeFilterForm(FlaskForm):
    """The clinic outcomes' filters (SPEC 5.4): a GET form, so the address is the report;
    no CSRF token. Dates are days on the clinic's calendar."""

    class Meta:
        csrf = False

    practitioner = SelectField(_l("Practitioner"), validators=[Optional()])
    date_from = DateField(_l("Sessions from"), validators=[Optional(), plausible_date])
    date_to = DateField(_l("Sessions to"), validators=[Optional(), plausible_date])

    def set_choices(self, staff: list[tuple[str, str]]) -> None:
        self.practitioner.choices = [("", _l("All practitioners")), *staff]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end of the period is before its start."))


class ReportPeriodForm(FlaskForm):
    """The shared outcomes report's period (``?from=...&to=...``, days on the clinic's
    calendar, both ends included; either may be left out). A GET form: no CSRF token."""

    class Meta:
        csrf = False

    date_from = DateField(_l("From"), validators=[Optional(), plausible_date], name="from")
    date_to = DateField(_l("To"), validators=[Optional(), plausible_date], name="to")

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end of the period is before its start."))
