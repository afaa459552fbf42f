"""``long_text``: a few lines of text, in a text area."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from pydantic import Field, StrictInt
from wtforms import TextAreaField

from portal.intake.types.schema import TEXT_CAP, Says
from portal.intake.types.short_text import MAX_LENGTH, ShortText


class LongText(ShortText):
    type: ClassVar[str] = "long_text"
    template: ClassVar[str] = "intake/types/long_text.html"
    field_class: ClassVar[Callable[..., Any]] = TextAreaField
    fhir_type: ClassVar[str] = "text"

    max_length: Annotated[StrictInt, Field(ge=1, le=TEXT_CAP), Says(MAX_LENGTH)] = 2000

    def render_kw(self) -> dict[str, Any]:
        return {**super().render_kw(), "rows": 4}
