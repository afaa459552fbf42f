"""The privacy incident register's form (SPEC 11.2). Times are a date and a time on the
clinic's wall clock, as everywhere in the portal; the rules that need the clock or the
database (not in the future, no edit of an older version) are the service's
(portal.rights.incidents.check)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import MAX_DB_INT, ReadableValue, WholeNumberField, plausible_date


class DayField(ReadableValue, DateField):
    unreadable = _l("Enter the date as year-month-day, for example 2026-12-05.")


class ClockField(ReadableValue, TimeField):
    unreadable = _l("Enter the time as hours and minutes, for example 14:30.")


class YesNoField(RadioField):
    """Yes or no, the first option carrying the field's id (the error summary's link)."""

    def __iter__(self):
        for index, option in enumerate(super().__iter__()):
            if index == 0:
                option.id = self.id
            yield option


_TEXT = {"rows": 4}


def _occurrence(label):
    """Which of a time the clock showed twice was meant (times.OCCURRENCES): shown only when
    the time typed beside it is such a time."""
    return YesNoField(label, choices=[
        SelectChoice("first", _l("The first (daylight time)")),
        SelectChoice("second", _l("The second (standard time)"))], validators=[Optional()],
        # Anything else is no choice: the time, if repeated, is refused beside its field.
        validate_choice=False)


def _aware_moment(value: str | None) -> datetime | None:
    """The moment a new entry's form was filled with (ISO 8601, with its offset), or None."""
    try:
        moment = datetime.fromisoformat(value) if value and len(value) < 40 else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


class IncidentForm(FlaskForm):
    discovered_day = DayField(_l("Date discovered"), validators=[
        InputRequired(_l("Enter the date the incident was discovered.")), plausible_date])
    discovered_time = ClockField(_l("Time discovered"), validators=[
        InputRequired(_l("Enter the time the incident was discovered."))])
    discovered_occurrence = _occurrence(_l("Discovered: which of the two times"))
    occurred_day = DayField(_l("Date it happened (optional)"),
                            validators=[Optional(), plausible_date])
    occurred_time = ClockField(_l("Time it happened (optional)"), validators=[Optional()])
    occurred_occurrence = _occurrence(_l("Happened: which of the two times"))
    description = TextAreaField(_l("What happened"), render_kw=_TEXT, validators=[
        DataRequired(_l("Describe what happened.")), Length(max=5000)])
    records_affected = TextAreaField(_l("Whose records"), render_kw={"rows": 2}, validators=[
        DataRequired(_l("Say whose records were involved: their patient ids, or who they "
                        "are as a group.")), Length(max=2000)])
    people_affected = WholeNumberField(_l("How many people (optional)"), validators=[
        Optional(), NumberRange(min=0, max=MAX_DB_INT,
                                message=_l("Enter a number of people, 0 or more."))],
        render_kw={"inputmode": "numeric"})
    real_risk = YesNoField(_l("Real risk of significant harm"),
                           choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
                           validators=[InputRequired(_l("Choose yes or no."))])
    risk_reasoning = TextAreaField(_l("Why"), render_kw=_TEXT, validators=[
        DataRequired(_l("Explain why there is, or is not, a real risk of significant "
                        "harm.")), Length(max=5000)])
    regulator_day = DayField(_l("Date the regulator was notified"),
                             validators=[Optional(), plausible_date])
    regulator_time = ClockField(_l("Time the regulator was notified"), validators=[Optional()])
    regulator_occurrence = _occurrence(_l("Regulator notified: which of the two times"))
    individuals_day = DayField(_l("Date the people were notified"),
                               validators=[Optional(), plausible_date])
    individuals_time = ClockField(_l("Time the people were notified"),
                                  validators=[Optional()])
    individuals_occurrence = _occurrence(_l("People notified: which of the two times"))
    measures = TextAreaField(_l("Measures taken (optional)"), render_kw=_TEXT,
                             validators=[Optional(), Length(max=5000)])
    # The version of the entry the edit started from (a new entry has none): an edit of an
    # older version is refused (portal.rights.incidents.update).
    version = HiddenField(filters=[lambda v: int(v) if v and v.isascii() and v.isdigit()
                                   and len(v) < 10 else None])
    # A new entry's "now", as its discovery was filled with: sent back unchanged, it is that
    # moment, even in the hour the clocks go back (times.clinic_datetime_strict's ``keep``).
    prefilled_at = HiddenField(filters=[_aware_moment])

    # Each moment of the register: its date field and its time field.
    MOMENTS = {"discovered_at": ("discovered_day", "discovered_time"),
               "occurred_at": ("occurred_day", "occurred_time"),
               "regulator_notified_at": ("regulator_day", "regulator_time"),
               "individuals_notified_at": ("individuals_day", "individuals_time")}
    # Each moment's choice of the first or second of a time the clock showed twice.
    OCCURRENCE_FIELDS = {"discovered_at": "discovered_occurrence",
                         "occurred_at": "occurred_occurrence",
                         "regulator_notified_at": "regulator_occurrence",
                         "individuals_notified_at": "individuals_occurrence"}
    # The moments whose time typed the clock showed twice (views: the choice is shown).
    repeated: frozenset[str] = frozenset()

    def validate(self, extra_validators=None) -> bool:
        """The fields, then each optional moment whole: a date needs its time and a time
        its date."""
        ok = super().validate(extra_validators)
        for day_name, time_name in list(self.MOMENTS.values())[1:]:
            day, time_ = self[day_name], self[time_name]
            if day.errors or time_.errors:
                continue
            if day.data and time_.data is None:
                time_.errors.append(_l("Enter the time too, or leave the date empty."))
                ok = False
            elif time_.data and day.data is None:
                day.errors.append(_l("Enter the date too, or leave the time empty."))
                ok = False
        return ok
