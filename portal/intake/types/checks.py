"""Format checks for the intake's form fields, shared by the question types.

Each lets an empty value through: which questions are required depends on other answers and
is decided by the service (portal.intake.answers), not by the field.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar

from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal.intake.types.schema import TEXT_CAP

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PHONE = re.compile(r"^[0-9+().\-\s/extEXT#]+$")
_DIGITS = re.compile(r"\d")


def clean_text(value: Any) -> Any:
    """Strip, normalise line ends and drop control characters (NUL, escapes) that no one
    types and PostgreSQL refuses; tabs and new lines stay."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value).strip()


def field_id(*parts: str) -> str:
    return "q-" + "-".join(p.replace(".", "-").replace("_", "-") for p in parts)


class Needed:
    """Marks a field "(required)" for the field macro; the check itself is the service's,
    because a follow-up is required only when it applies."""
    field_flags: ClassVar[dict[str, bool]] = {"required": True}

    def __call__(self, form, field):
        return None


def marked(required: bool, check) -> list:
    return [Needed(), check] if required else [check]


class TextCheck:
    def __init__(self, limit: int, phone: bool = False):
        self.limit = min(limit, TEXT_CAP)
        self.phone = phone

    def __call__(self, form, field):
        value = field.data or ""
        if len(value) > self.limit:
            raise ValidationError(_("Use at most %(max)d characters. This answer has "
                                    "%(count)d.", max=self.limit, count=len(value)))
        if value and self.phone and (not _PHONE.match(value)
                                     or len(_DIGITS.findall(value)) < 7):
            raise ValidationError(_("Enter a phone number, like 604-555-0123."))


class ChoiceCheck:
    def __init__(self, values: tuple[str, ...], message=None):
        self.values = values
        self.message = message

    def __call__(self, form, field):
        data = field.data
        if data in (None, ""):
            return
        if data not in self.values:
            raise ValidationError(self.message or _("Choose one of the options."))


ZERO_TO_TEN = tuple(str(i) for i in range(11))


def intensity_choices(empty_label: str) -> list[SelectChoice]:
    """A 0-10 select with an empty first choice."""
    return [SelectChoice("", empty_label)] + [SelectChoice(v, v) for v in ZERO_TO_TEN]


def int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def text_ok(value: Any, limit: int) -> bool:
    """A stored text answer: stripped, not empty, within its limit, no NUL."""
    return isinstance(value, str) and 0 < len(value) <= min(limit, TEXT_CAP) \
        and value == value.strip() and "\x00" not in value
