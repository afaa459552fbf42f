"""Rules about stored answers that do not depend on a request: which questions show, which
required ones are missing, and whether a stored value is one the definition allows.

Answers are a JSON object ``{question id: value}``. Values by question type (each type's
class in portal.intake.types says what it stores, and checks it: ``value_ok``):

* short_text, long_text: str (stripped, never empty)
* single_choice, yes_no: an option value; multiple_choice: a list of option values
* date: "YYYY-MM-DD"; number, scale: int
* body_map: ``{region code: intensity 0-10}`` with codes from portal.intake.bodymap
* rows: a list of ``{column id: value}`` (each row has every column)
* signature: ``{"name", "consent_key", "consent_version", "sha256", "locale"}``

An unanswered question has no key.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from portal.intake.definitions import Question, Questionnaire
from portal.intake.types.date import date_bound

__all__ = ["date_bound"]


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


def missing(definition: Questionnaire, answers: dict[str, Any],
            signed_versions: dict[str, int] | None = None,
            step: int | None = None) -> list[Question]:
    """Required questions (that show) without an answer; a signature counts only for the
    current version of its consent (``signed_versions``: consent key -> current version)."""
    return [question for question in definition.questions.values()
            if (step is None or question.step == step) and question.required
            and visible(definition, question, answers)
            and question.is_missing(answers.get(question.id), signed_versions)]


def value_ok(question: Question, value: Any, today: date | None = None) -> bool:
    """Whether ``value`` is something the portal could have stored for ``question``."""
    return question.value_ok(value, today)


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
