"""The question types of the intake, one module each, found by their TOML ``type`` name.

A question of a definition is an instance of its type's class (see ``base.Question`` for
what a type implements). ``build`` makes one from its TOML table; the loader
(portal.intake.definitions) checks what is not the type's own business: the id, follow-ups
(``show_if``), flags and scoring.

Adding a type: a module here with its class, its line in ``TYPES`` below, and its template
in ``templates/intake/types/`` when the existing ones do not fit.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from portal.intake.types.base import Choice, ErrorItem, Question, StepInput
from portal.intake.types.body_map import BodyMap
from portal.intake.types.date import Date
from portal.intake.types.long_text import LongText
from portal.intake.types.multiple_choice import MultipleChoice
from portal.intake.types.number import Number
from portal.intake.types.rows import Rows
from portal.intake.types.scale import Scale
from portal.intake.types.schema import SettingsError, explain
from portal.intake.types.short_text import ShortText
from portal.intake.types.signature import Signature
from portal.intake.types.single_choice import SingleChoice
from portal.intake.types.yes_no import YesNo

__all__ = ["TYPES", "Choice", "ErrorItem", "Question", "SettingsError", "StepInput", "build"]

TYPES: dict[str, type[Question]] = {cls.type: cls for cls in (
    ShortText, LongText, SingleChoice, MultipleChoice, YesNo, Date, Number, Scale, BodyMap,
    Rows, Signature)}

# Every key a question's table may have, whatever its type; another key is a typo.
SETTINGS = {"show_if"}.union(*(cls.settings() for cls in TYPES.values()))


def build(table: dict[str, Any], step: int, consents: set[str]) -> Question:
    """The question a TOML table describes (``show_if`` is the loader's: it needs the
    questions before it). ``consents``: the keys of the consent definitions in the folder.
    Raises SettingsError."""
    unknown = sorted(set(table) - SETTINGS)
    if unknown:
        raise SettingsError("", f"unknown setting(s) {unknown} (a typo?)")
    cls = TYPES.get(str(table.get("type")))
    if cls is None:
        raise SettingsError("", f"type {table.get('type')!r} is not one of {tuple(TYPES)}")
    settings = {k: v for k, v in table.items() if k not in ("type", "show_if")}
    try:
        return cls.model_validate({**settings, "step": step}, context={"consents": consents})
    except ValidationError as error:
        raise explain(error, cls, settings) from None
