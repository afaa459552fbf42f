"""``body_map``: where it hurts, and how much: a 0-10 intensity for each marked region of the
catalogue in portal.intake.bodymap, stored as ``{region code: intensity}``."""
from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from portal.intake import bodymap
from portal.intake.types.base import Question, StepInput
from portal.intake.types.checks import ZERO_TO_TEN, ChoiceCheck, field_id, int_in, intensity_choices
from portal.intake.types.schema import text


class BodyMap(Question):
    type: ClassVar[str] = "body_map"
    fhir_type: ClassVar[str] = "group"
    template: ClassVar[str] = "intake/types/body_map.html"

    def field_name(self, code: str) -> str:
        return f"{self.id}-{code}"

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        fields = {}
        for region in bodymap.regions():
            name = self.field_name(region.code)
            fields[name] = SelectField(region.label(locale), name=name,
                                       id=field_id(self.id, region.code),
                                       choices=intensity_choices(_l("Not marked")),
                                       validate_choice=False,
                                       validators=[ChoiceCheck(ZERO_TO_TEN, _l(
                                           "Choose a number from 0 to 10."))])
        return fields

    def form_values(self, value: Any) -> dict[str, Any]:
        return {self.field_name(code): str(intensity) for code, intensity in value.items()}

    def read(self, form, out: StepInput) -> None:
        marks, bad = {}, False
        for region in bodymap.regions():
            posted = form[self.field_name(region.code)]
            if posted.errors:
                bad = True
                out.fail(self, form.locale, f"{posted.label.text}: {posted.errors[0]}",
                         posted.id)
            elif posted.data not in (None, ""):
                marks[region.code] = int(posted.data)
        if not bad:
            out.values[self.id] = marks or None

    def first_field(self, form) -> Any:
        return None  # "mark at least one place" belongs to the map as a whole

    def required_message(self) -> str:
        return _("Mark at least one place where you feel pain.")

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return isinstance(value, dict) and bool(value) and all(
            bodymap.is_region(code) and int_in(n, 0, 10) for code, n in value.items())

    def lines(self, value: Any, locale: str) -> list[str]:
        marks = sorted(value.items(), key=lambda item: (-item[1], item[0]))
        return [_("%(place)s: %(n)d out of 10", place=bodymap.label(code, locale), n=n)
                for code, n in marks]

    def fhir_items(self, value: Any, locale: str) -> list[dict[str, Any]]:
        """A group with one item per marked region."""
        if not isinstance(value, dict):
            return super().fhir_items(value, locale)
        parts = [{"linkId": f"{self.id}.{code}", "text": bodymap.label(code, locale),
                  "answer": [{"valueInteger": n}]}
                 for code, n in sorted(value.items()) if isinstance(n, int)]
        return [{"linkId": self.id, "text": text(self.label, locale), "item": parts}] \
            if parts else []

    def fhir_question(self, locale: str) -> dict[str, Any]:
        """A group with an optional 0-10 item for each region of the catalogue."""
        return {**super().fhir_question(locale),
                "item": [{"linkId": f"{self.id}.{region.code}", "text": region.label(locale),
                          "type": "integer"} for region in bodymap.regions()]}
