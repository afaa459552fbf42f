"""The typed pieces of a question's settings, and pydantic's errors told in the loader's words.

A question type declares its settings as a pydantic model (``portal.intake.types.base``).
The loader's messages name the file and the question and say what to fix ("max_length must
be a whole number from 1 to 5000"), so each setting carries its own words: ``Says`` (any
problem with the setting) or ``Names`` (a text in both languages: what is missing from it).
``explain`` turns the first error of a ``ValidationError`` into that message; checks that
involve several settings raise ``problem(...)`` with a message of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

LOCALES = ("en", "fr_CA")
# The most any free-text answer may hold, whatever a definition asks for.
TEXT_CAP = 5000
ID = r"^[a-z][a-z0-9_]{0,39}$"
VALUE = r"^[a-z0-9_]{1,40}$"
NEEDS_TEXT = f"needs a text in each language ({', '.join(LOCALES)})"

Text = dict[str, str]


def text(value: Text | None, locale: str) -> str:
    """The text in ``locale``, English when a locale is missing (the loader makes sure both
    are present in shipped files)."""
    if not value:
        return ""
    return value.get(locale) or value.get("en") or ""


def text_problem(value: Any) -> str | None:
    """What is wrong with a text that must be given in every language, if anything."""
    if not isinstance(value, dict):
        return NEEDS_TEXT
    missing = [loc for loc in LOCALES
               if not isinstance(value.get(loc), str) or not value[loc].strip()]
    if missing:
        return f"has no text for {', '.join(missing)}"
    extra = set(value) - set(LOCALES)
    if extra:
        return f"has unknown languages {sorted(extra)}"
    return None


def _local_text(value: Any) -> Any:
    if value is None:
        return None  # a required text is "missing" for pydantic; the field's Names says so
    found = text_problem(value)
    if found:
        raise PydanticCustomError("text", "{problem}", {"problem": found})
    return {loc: value[loc].strip() for loc in LOCALES}


# A text in every language; optional texts are None when not given.
LocalText = Annotated[Text, BeforeValidator(_local_text)]
OptionalText = Annotated[Text | None, BeforeValidator(_local_text)]


def problem(message: str) -> PydanticCustomError:
    """An error whose message is already the loader's (checks across several settings)."""
    return PydanticCustomError("definition", "{problem}", {"problem": message})


class _Lenient(dict):
    def __missing__(self, key):
        return None


class Says:
    """The message for anything wrong with a setting, whatever pydantic found (missing,
    wrong type, out of range). A format string: ``{input}`` is the value given, other names
    are the settings beside it (``{value!r}`` of an option)."""

    def __init__(self, message: str):
        self.message = message

    def format(self, given: Any, table: Any) -> str:
        values = _Lenient(table if isinstance(table, dict) else {})
        values["input"] = given
        return self.message.format_map(values)


class Names(Says):
    """A text in every language: the message names it and says what it lacks."""


class Part(BaseModel):
    """A table inside a question's settings (an option, a column, the anchors)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Added to "question 'x'" when the table has settings it does not know.
    where: ClassVar[str] = ""
    # The message when the entry is not a table at all.
    shape: ClassVar[str] = "must be a table"

    @classmethod
    def misplaced(cls, keys: list[str]) -> str:
        return f"unknown setting(s) {keys} (a typo?)"


class Option(Part):
    where: ClassVar[str] = " option {value!r}"
    shape: ClassVar[str] = "option value None must be lower-case letters, digits and _"

    value: Annotated[StrictStr, Field(pattern=VALUE),
                     Says("option value {input!r} must be lower-case letters, digits and _")]
    label: Annotated[LocalText, Names("option {value!r}")]


def age_in_years(born: Any, on: date) -> int | None:
    """Completed years on ``on`` for a stored date of birth ("YYYY-MM-DD"); None when it is
    not a date."""
    try:
        day = date.fromisoformat(born)
    except (TypeError, ValueError):
        return None
    return on.year - day.year - ((on.month, on.day) < (day.month, day.day))


@dataclass(frozen=True)
class Condition:
    """``equals`` one value, ``any_of`` several, or (multiple choice) ``includes`` one.
    A flag may instead hold ``older_than`` (whole years) on a date-of-birth answer, judged
    on a given day (the day the intake is sent): a note computed, not asked."""
    question: str
    equals: str | None = None
    any_of: tuple[str, ...] = ()
    includes: str | None = None
    older_than: int | None = None

    def met(self, value: Any, on: date | None = None) -> bool:
        if self.older_than is not None:
            age = age_in_years(value, on) if on is not None else None
            return age is not None and age > self.older_than
        if self.includes is not None:
            return isinstance(value, list) and self.includes in value
        if self.equals is not None:
            return value == self.equals
        return value in self.any_of

    def values(self) -> tuple[str, ...]:
        if self.older_than is not None:
            return ()
        if self.includes is not None:
            return (self.includes,)
        if self.equals is not None:
            return (self.equals,)
        return self.any_of


# --- pydantic's errors in the loader's words ------------------------------------------------

class SettingsError(Exception):
    """A question's settings are wrong: ``where`` is added to the question's name (a nested
    table), ``problem`` says what to fix."""

    def __init__(self, where: str, problem_: str):
        super().__init__(f"{where}: {problem_}")
        self.where = where
        self.problem = problem_


def _nested(annotation: Any) -> type[Part] | None:
    if isinstance(annotation, type) and issubclass(annotation, Part):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested(arg)
        if found is not None:
            return found
    return None


def _follow(model: type[BaseModel], table: Any, loc: tuple) -> tuple[Any, Any, Any]:
    """The model and raw table an error's location ends in, and the setting (None when the
    location is a list entry that is not a table)."""
    owner: Any = model
    data, name, inside = table, None, None
    for part in loc:
        if name is None:
            name = part
            inside = data.get(part) if isinstance(data, dict) else None
            continue
        nested = _nested(owner.model_fields[name].annotation) if name in owner.model_fields \
            else None
        if nested is None:
            break
        if isinstance(part, int):
            items = inside if isinstance(inside, (list, tuple)) else ()
            owner, data, name = nested, items[part] if 0 <= part < len(items) else None, None
        else:
            owner, data, name = nested, inside, part
            inside = data.get(part) if isinstance(data, dict) else None
    return owner, data, name


def _says(owner: type[BaseModel], name: str | None) -> Says | None:
    field = owner.model_fields.get(name) if name is not None else None
    return next((m for m in field.metadata if isinstance(m, Says)), None) if field else None


def explain(error: ValidationError, model: type[BaseModel], table: dict) -> SettingsError:
    """The first thing wrong with ``table`` (a question's settings), as the loader says it."""
    errors = error.errors()
    first = errors[0]
    kind, loc = first["type"], tuple(first["loc"])
    if kind == "definition":
        return SettingsError("", first["ctx"]["problem"])
    owner, data, name = _follow(model, table, loc)
    if kind == "extra_forbidden":
        keys = sorted(str(e["loc"][-1]) for e in errors
                      if e["type"] == kind and tuple(e["loc"][:-1]) == loc[:-1])
        return SettingsError(owner.where.format_map(_Lenient(data or {})),
                             owner.misplaced(keys))
    if name is None:
        return SettingsError("", owner.shape)
    says = _says(owner, name)
    if says is None:  # a setting without words of its own: pydantic's
        return SettingsError("", f"{'.'.join(map(str, loc))}: {first['msg']}")
    message = says.format(None if kind == "missing" else first.get("input"), data)
    if isinstance(says, Names):
        message += " " + (first["ctx"]["problem"] if kind == "text" else NEEDS_TEXT)
    return SettingsError("", message)
