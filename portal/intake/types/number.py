"""``number``: a whole number from ``min`` to ``max``, with an optional ``unit`` ("days")."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar

from flask_babel import gettext as _
from pydantic import Field, StrictInt, model_validator
from wtforms import StringField
from wtforms.validators import ValidationError

from portal.intake.types.base import Question
from portal.intake.types.checks import clean_text, field_id, int_in, marked
from portal.intake.types.schema import Names, OptionalText, Says, problem, text

_INT = re.compile(r"^[+-]?\d{1,7}$")
NUMBER = "a number question needs whole-number min < max (at most 999999)"
RANGE = "min and max are for number and date questions"
Limit = Annotated[StrictInt, Field(ge=-999_999, le=999_999), Says(NUMBER)]


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


class Number(Question):
    type: ClassVar[str] = "number"
    fhir_type: ClassVar[str] = "integer"
    elsewhere: ClassVar[dict[str, str]] = {"min": RANGE, "max": RANGE,
                                           "unit": "unit is for number questions"}

    min: Limit
    max: Limit
    unit: Annotated[OptionalText, Names("unit")] = None

    @model_validator(mode="after")
    def _ordered(self) -> Number:
        if self.min >= self.max:
            raise problem(NUMBER)
        return self

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        return {self.id: StringField(text(self.label, locale), id=field_id(self.id),
                                     filters=[clean_text],
                                     render_kw={"inputmode": "numeric", "autocomplete": "off"},
                                     validators=marked(self.required,
                                                       IntCheck(self.min, self.max)))}

    def form_values(self, value: Any) -> dict[str, Any]:
        return {self.id: str(value)}

    def answer(self, data: Any) -> Any:
        return int(data) if data not in (None, "") else None

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return int_in(value, self.min, self.max)

    def lines(self, value: Any, locale: str) -> list[str]:
        return [f"{value} {text(self.unit, locale)}".strip()]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        if isinstance(value, int) and not isinstance(value, bool):
            return [{"valueInteger": value}]
        if isinstance(value, float):
            return [{"valueDecimal": value}]
        return super().fhir_answers(value, locale)
