"""The shapes a definition file is read into (portal.intake.definitions loads and checks
them): a questionnaire's steps, advice, flags and scoring, and a consent's text. A question
is an instance of its type's class (portal.intake.types)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from portal.intake.types import Question
from portal.intake.types.schema import Condition, Text, text
from portal.intake.types.signature import Signature


@dataclass
class Step:
    number: int
    id: str
    title: Text
    kind: str = "questions"
    intro: Text | None = None
    questions: list[Question] = field(default_factory=list)


@dataclass(frozen=True)
class Advice:
    level: str
    title: Text
    text: Text


@dataclass(frozen=True)
class Flag:
    code: str
    kind: str
    when: Condition
    label: Text
    advice: str | None = None
    details: tuple[str, ...] = ()


@dataclass
class Questionnaire:
    key: str
    version: int
    title: Text
    steps: list[Step]
    flags: list[Flag]
    advice: dict[str, Advice]
    scoring: dict[str, Any]
    source: str = ""

    def __post_init__(self):
        self.questions = {q.id: q for s in self.steps for q in s.questions}

    @property
    def step_count(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step | None:
        return self.steps[number - 1] if 1 <= number <= len(self.steps) else None

    def questions_of(self, number: int) -> list[Question]:
        """The questions of step ``number`` (none when there is no such step)."""
        step = self.step(number)
        return step.questions if step is not None else []

    @property
    def review_step(self) -> Step:
        return self.steps[-1]

    def flag(self, code: str) -> Flag | None:
        return next((f for f in self.flags if f.code == code), None)

    @property
    def consent_key(self) -> str | None:
        return next((q.consent for q in self.questions.values() if isinstance(q, Signature)),
                    None)


@dataclass(frozen=True)
class Consent:
    key: str
    version: int
    title: Text
    body: Text
    source: str = ""

    def text(self, locale: str) -> str:
        return text(self.body, locale)

    def sha256(self, locale: str) -> str:
        """The digest stored with a signature: the exact text the patient was shown."""
        return hashlib.sha256(self.text(locale).encode("utf-8")).hexdigest()
