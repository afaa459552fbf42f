"""``single_choice``: one of the definition's options, as radio buttons."""
from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from wtforms import RadioField

from portal.intake.types.base import Choice
from portal.intake.types.checks import ChoiceCheck, field_id
from portal.intake.types.schema import text


class SingleChoice(Choice):
    type: ClassVar[str] = "single_choice"

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        return {self.id: RadioField(text(self.label, locale), id=field_id(self.id),
                                    choices=self.choices(locale), validate_choice=False,
                                    validators=[ChoiceCheck(self.option_values())])}
