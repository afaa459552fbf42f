"""Rules about stored answers that do not depend on a request: which questions show, which
required ones are missing, and whether a stored value is one the definition allows.

Answers are a JSON object ``{question id: value}``. Values by question type:

* short_text, long_text: str (stripped, never empty)
* single_choice, yes_no: an option value; multiple_choice: a list of option values
* date: "YYYY-MM-DD"; number, scale: int
* body_map: ``{region code: intensity 0-10}`` with codes from portal.intake.bodymap
* rows: a list of ``{column id: value}`` (each row has every column)
* signature: ``{"name", "consent_key", "consent_version", "sha256", "locale"}``

An unanswered question has no key.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from portal.intake import bodymap
from portal.intake.definitions import TEXT_CAP, Question, Questionnaire
from portal.intake.types import Question as QuestionType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def visible(definition: Questionnaire, question: Question, answers: dict[str, Any]) -> bool:
    """A follow-up shows only when the answer it depends on (itself visible) asks for it."""
    seen = set()
    while question.show_if is not None:
        if question.id in seen:  # the loader forbids cycles; be safe anyway
            return False
        seen.add(question.id)
        parent = definition.questions[question.show_if.question]
        if not question.show_if.met(answers.get(parent.id)):
            return False
        question = parent
    return True


def is_answered(value: Any) -> bool:
    return value not in (None, "", [], {})


def date_bound(bound: str, today: date) -> date:
    return today if bound == "today" else date.fromisoformat(bound)


def missing(definition: Questionnaire, answers: dict[str, Any],
            signed_versions: dict[str, int] | None = None,
            step: int | None = None) -> list[Question]:
    """Required questions (that show) without an answer; a signature counts only for the
    current version of its consent (``signed_versions``: consent key -> current version)."""
    out = []
    for question in definition.questions.values():
        if step is not None and question.step != step:
            continue
        if not question.required or not visible(definition, question, answers):
            continue
        value = answers.get(question.id)
        if isinstance(question, QuestionType):
            if question.is_missing(value, signed_versions):
                out.append(question)
            continue
        if question.type == "rows":
            if len(value or []) < max(question.min_rows, 1):
                out.append(question)
            continue
        if question.type == "signature" and signed_versions is not None:
            current = signed_versions.get(question.consent)
            if not isinstance(value, dict) or value.get("consent_version") != current:
                out.append(question)
            continue
        if not is_answered(value):
            out.append(question)
    return out


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text_ok(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= min(limit, TEXT_CAP) \
        and value == value.strip() and "\x00" not in value


def value_ok(question: Question, value: Any, today: date | None = None) -> bool:
    """Whether ``value`` is something the portal could have stored for ``question``."""
    if isinstance(question, QuestionType):
        return question.value_ok(value, today)
    kind = question.type
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return False
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return False
        low = date_bound(question.min, today or date.max)
        high = date_bound(question.max, today or date.max)
        return low <= day <= high
    if kind == "number":
        return _int_in(value, question.min, question.max)
    if kind == "scale":
        return _int_in(value, 0, 10)
    if kind == "body_map":
        return isinstance(value, dict) and bool(value) and all(
            bodymap.is_region(code) and _int_in(v, 0, 10) for code, v in value.items())
    if kind == "rows":
        if not isinstance(value, list) or not 0 < len(value) <= question.max_rows:
            return False
        for row in value:
            if not isinstance(row, dict) or set(row) != {c.id for c in question.columns}:
                return False
            for column in question.columns:
                cell = row[column.id]
                ok = _text_ok(cell, column.max_length) if column.type == "short_text" \
                    else _int_in(cell, 0, 10)
                if not ok:
                    return False
        return True
    if kind == "signature":
        return isinstance(value, dict) and set(value) == {
            "name", "consent_key", "consent_version", "sha256", "locale"} \
            and _text_ok(value["name"], 200) and value["consent_key"] == question.consent \
            and _int_in(value["consent_version"], 1, 1_000_000) \
            and isinstance(value["sha256"], str) and len(value["sha256"]) == 64
    return False


def problems(definition: Questionnaire, answers: Any, today: date | None = None) -> list[str]:
    """Everything wrong with stored answers (empty when they are all valid): unknown ids,
    invalid values, follow-ups kept although their condition is not met."""
    if not isinstance(answers, dict):
        return ["answers are not an object"]
    found = []
    for qid, value in answers.items():
        question = definition.questions.get(qid)
        if question is None:
            found.append(f"{qid!r} is not a question of {definition.key} v{definition.version}")
        elif not value_ok(question, value, today):
            found.append(f"{qid!r} holds an invalid value {value!r:.80}")
        elif not visible(definition, question, answers):
            found.append(f"{qid!r} is answered although it does not apply")
    return found
