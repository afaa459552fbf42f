"""``date``: a day, from the browser's date picker or typed as YYYY-MM-DD, between ``min`` and
``max`` (each a date or "today", the clinic's date)."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar

from flask_babel import gettext as _
from pydantic import AfterValidator
from wtforms import StringField
from wtforms.validators import ValidationError

from portal.formats import format_date
from portal.intake.types.base import Question
from portal.intake.types.checks import clean_text, field_id, marked
from portal.intake.types.schema import Says, text

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BOUND = 'date bound {input!r} must be "today" or YYYY-MM-DD'
RANGE = "min and max are for number and date questions"


def date_bound(bound: str, today: date) -> date:
    return today if bound == "today" else date.fromisoformat(bound)


def iso_date(value: Any) -> date | None:
    """``value`` as a date, None when it is not an ISO date."""
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _bound(value: str) -> str:
    if value != "today" and (not _DATE.match(value) or iso_date(value) is None):
        raise ValueError("not a date bound")
    return value


Bound = Annotated[str, AfterValidator(_bound), Says(BOUND)]


class DateCheck:
    def __init__(self, low: str, high: str, today: date):
        self.low, self.high = date_bound(low, today), date_bound(high, today)
        self.future = high == "today"

    def __call__(self, form, field):
        value = field.data or ""
        if not value:
            return
        day = iso_date(value) if _DATE.match(value) else None
        if day is None:
            raise ValidationError(_("Enter a real date as year-month-day, for example "
                                    "1956-03-21."))
        if day > self.high and self.future:
            raise ValidationError(_("The date cannot be in the future."))
        if not self.low <= day <= self.high:
            raise ValidationError(_("Enter a date from %(low)s to %(high)s.",
                                    low=self.low.isoformat(), high=self.high.isoformat()))


class Date(Question):
    type: ClassVar[str] = "date"
    fhir_type: ClassVar[str] = "date"
    elsewhere: ClassVar[dict[str, str]] = {"min": RANGE, "max": RANGE}

    min: Bound = "1900-01-01"
    max: Bound = "today"

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        render_kw = {"type": "date", "min": date_bound(self.min, today).isoformat(),
                     "max": date_bound(self.max, today).isoformat()}
        if self.autocomplete:
            render_kw["autocomplete"] = self.autocomplete
        return {self.id: StringField(text(self.label, locale), id=field_id(self.id),
                                     filters=[clean_text], render_kw=render_kw,
                                     validators=marked(self.required,
                                                       DateCheck(self.min, self.max, today)))}

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        day = iso_date(value) if isinstance(value, str) and _DATE.match(value) else None
        if day is None:
            return False
        return date_bound(self.min, today or date.max) <= day \
            <= date_bound(self.max, today or date.max)

    def lines(self, value: Any, locale: str) -> list[str]:
        day = iso_date(value)
        return [format_date(day, "long")] if day is not None else [str(value)]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        if iso_date(value) is not None:
            return [{"valueDate": value}]
        return super().fhir_answers(value, locale)
