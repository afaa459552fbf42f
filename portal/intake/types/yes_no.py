"""``yes_no``: a single choice whose options are always yes and no."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import model_validator

from portal.intake.types.schema import Option, problem
from portal.intake.types.single_choice import SingleChoice

YES_NO = (Option(value="yes", label={"en": "Yes", "fr_CA": "Oui"}),
          Option(value="no", label={"en": "No", "fr_CA": "Non"}))


class YesNo(SingleChoice):
    type: ClassVar[str] = "yes_no"
    choices_class: ClassVar[str] = "choices--inline"

    options: tuple[Option, ...] = YES_NO

    @model_validator(mode="before")
    @classmethod
    def _own_options(cls, data: Any) -> Any:
        if isinstance(data, dict) and "options" in data:
            raise problem("yes/no questions have their own options")
        return data
