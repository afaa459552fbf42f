"""``multiple_choice``: any of the definition's options, as checkboxes; stored as a list in
the options' order."""
from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from flask_babel import gettext as _
from wtforms import SelectMultipleField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.intake.types.base import Choice
from portal.intake.types.checks import field_id
from portal.intake.types.schema import text


class MultiChoiceCheck:
    def __init__(self, values: tuple[str, ...]):
        self.values = values

    def __call__(self, form, field):
        if any(v not in self.values for v in field.data or ()):
            raise ValidationError(_("Choose from the options shown."))


class MultipleChoice(Choice):
    type: ClassVar[str] = "multiple_choice"
    condition: ClassVar[str | None] = "includes"
    choices_class: ClassVar[str] = "choices--checks"

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        return {self.id: SelectMultipleField(text(self.label, locale), id=field_id(self.id),
                                             choices=self.choices(locale),
                                             validate_choice=False,
                                             widget=ListWidget(prefix_label=False),
                                             option_widget=CheckboxInput(),
                                             validators=[MultiChoiceCheck(
                                                 self.option_values())])}

    def answer(self, data: Any) -> Any:
        chosen = set(data or ())
        return [v for v in self.option_values() if v in chosen] or None

    def drawn(self, form) -> Any:
        return form[self.id].data or []

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        # Options first: an entry that is not one (a table, say) must not reach set().
        return isinstance(value, list) and bool(value) \
            and all(v in self.option_values() for v in value) and len(set(value)) == len(value)

    def lines(self, value: Any, locale: str) -> list[str]:
        return [self.option_label(v, locale) for v in value]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        return [{"valueCoding": self.fhir_coding(v, locale)} for v in value]

    def fhir_question(self, locale: str) -> dict[str, Any]:
        return {**super().fhir_question(locale), "repeats": True}
