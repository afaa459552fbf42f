"""``scale``: a number from 0 to 10, as a row of radio buttons, with words for its ends
(``anchors``). The NRS items of the NPRS and the PEG are scales."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from portal.intake.types.base import Question
from portal.intake.types.checks import ZERO_TO_TEN, ChoiceCheck, field_id, int_in
from portal.intake.types.schema import Names, OptionalText, Part, Says, text


class Anchors(Part):
    where: ClassVar[str] = " anchors"

    low: Annotated[OptionalText, Names("anchor low")] = None
    high: Annotated[OptionalText, Names("anchor high")] = None


class Scale(Question):
    type: ClassVar[str] = "scale"
    fhir_type: ClassVar[str] = "integer"
    template: ClassVar[str] = "intake/types/scale.html"
    elsewhere: ClassVar[dict[str, str]] = {"anchors": "anchors are for scale questions"}
    min: ClassVar[int] = 0
    max: ClassVar[int] = 10

    anchors: Annotated[Anchors, Says("anchors must be a table with low and high")] = Anchors()

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        return {self.id: RadioField(text(self.label, locale), id=field_id(self.id),
                                    choices=[SelectChoice(v, v) for v in ZERO_TO_TEN],
                                    validate_choice=False,
                                    validators=[ChoiceCheck(ZERO_TO_TEN, _l(
                                        "Choose a number from 0 to 10."))])}

    def anchor(self) -> str:
        return field_id(self.id) + "-0"

    def form_values(self, value: Any) -> dict[str, Any]:
        return {self.id: str(value)}

    def answer(self, data: Any) -> Any:
        return int(data) if data not in (None, "") else None

    def required_message(self) -> str:
        return _("Choose an answer.")

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return int_in(value, self.min, self.max)

    def lines(self, value: Any, locale: str) -> list[str]:
        return [_("%(n)d out of 10", n=value)]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        if isinstance(value, int):
            return [{"valueInteger": value}]
        return super().fhir_answers(value, locale)

    def scores(self, value: Any) -> list[int]:
        return [value] if int_in(value, self.min, self.max) else []
