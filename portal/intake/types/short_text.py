"""``short_text``: one line of text (a name, a phone number)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictInt
from wtforms import StringField

from portal.intake.types.base import Question
from portal.intake.types.checks import TextCheck, clean_text, field_id, marked, text_ok
from portal.intake.types.schema import TEXT_CAP, Says, text

MAX_LENGTH = f"max_length must be a whole number from 1 to {TEXT_CAP}"


class ShortText(Question):
    type: ClassVar[str] = "short_text"
    elsewhere: ClassVar[dict[str, str]] = {
        "max_length": "max_length is for text questions",
        "input_type": "input_type is for text questions",
        "format": "format is for text questions"}
    field_class: ClassVar[Callable[..., Any]] = StringField

    max_length: Annotated[StrictInt, Field(ge=1, le=TEXT_CAP), Says(MAX_LENGTH)] = 200
    # The HTML input type: a phone keypad on phones for "tel".
    input_type: Annotated[Literal["text", "tel", "email"] | None,
                          Says("input_type must be text, tel or email")] = None
    # "phone": the answer must look like a phone number.
    format: Annotated[Literal["phone"] | None, Says('format must be "phone"')] = None

    def render_kw(self) -> dict[str, Any]:
        render_kw: dict[str, Any] = {}
        if self.input_type:
            render_kw["type"] = self.input_type
        if self.autocomplete:
            render_kw["autocomplete"] = self.autocomplete
        if self.input_type == "tel":
            render_kw["inputmode"] = "tel"
        return render_kw

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        check = TextCheck(self.max_length, phone=self.format == "phone")
        return {self.id: self.field_class(text(self.label, locale), id=field_id(self.id),
                                          filters=[clean_text], render_kw=self.render_kw(),
                                          validators=marked(self.required, check))}

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return text_ok(value, self.max_length)
