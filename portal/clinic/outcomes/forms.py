"""The clinic outcomes' filters (SPEC 5.4)."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

# Dates outside these are typing mistakes (and the far ends of the calendar cannot be turned
# into UTC instants).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _plausible_date(_form, field) -> None:
    if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Enter a date between %(first)s and %(last)s.",
                                 first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))


class OutcomeFilterForm(FlaskForm):
    """The clinic outcomes' filters (SPEC 5.4): a GET form, so the address is the report;
    no CSRF token. Dates are days on the clinic's calendar."""

    class Meta:
        csrf = False

    practitioner = SelectField(_l("Practitioner"), validators=[Optional()])
    date_from = DateField(_l("Sessions from"), validators=[Optional(), _plausible_date])
    date_to = DateField(_l("Sessions to"), validators=[Optional(), _plausible_date])

    def set_choices(self, staff: list[tuple[str, str]]) -> None:
        self.practitioner.choices = [("", _l("All practitioners")), *staff]

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end of the period is before its start."))
