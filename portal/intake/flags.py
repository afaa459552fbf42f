"""Red flags, IMS precautions and notes from the answers (SPEC 2.7).

The definition says which answer raises which flag (``[[flags]]`` in the questionnaire
file, with the sources cited there: the AHCPR red-flag table and the dry-needling
precautions of CLINICAL.md). Flags alert a practitioner and show the patient advice; they
never decide anything by themselves. A note (age over 50, from the date of birth) is for
the practitioner only: evidence for a single red flag is weak (NICE, CLINICAL.md), and age
alone is not an answer the patient should be alarmed by, so it has no advice and is not a
red flag that waits for review before a session.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from portal.intake.answers import visible
from portal.intake.definitions import ADVICE_LEVELS, FLAG_KINDS, Flag, Questionnaire


def raised(definition: Questionnaire, answers: dict[str, Any],
           on: date | None = None) -> list[Flag]:
    """Flags whose condition holds, red flags first, then precautions, then notes, each in
    the definition's order. ``on``: the day ages are judged on (the day the intake is
    sent); without it no age condition holds."""
    found = []
    for flag in definition.flags:
        question = definition.questions[flag.when.question]
        if visible(definition, question, answers) \
                and flag.when.met(answers.get(question.id), on):
            found.append(flag)
    return sorted(found, key=lambda f: FLAG_KINDS.index(f.kind))


def compute(definition: Questionnaire, answers: dict[str, Any],
            on: date) -> list[dict[str, Any]]:
    """What is stored on a submitted response: code, kind and advice level of each flag."""
    return [{"code": f.code, "kind": f.kind, "advice": f.advice}
            for f in raised(definition, answers, on)]


def counts(stored: list[dict[str, Any]]) -> dict[str, Any]:
    """The columns the worklist sorts and counts on, for stored flags (notes count in
    neither)."""
    reds = sum(1 for f in stored if f["kind"] == "red_flag")
    return {"has_red_flags": reds > 0, "red_flag_count": reds,
            "precaution_count": sum(1 for f in stored if f["kind"] == "precaution")}


def advice_levels(definition: Questionnaire, answers: dict[str, Any]) -> list[str]:
    """The urgent-care advice to show, most urgent first, each once."""
    levels = {f.advice for f in raised(definition, answers) if f.advice}
    return [level for level in ADVICE_LEVELS if level in levels]


def question_advice(definition: Questionnaire) -> dict[str, dict[str, str]]:
    """For each question that can raise a red flag: answer value -> advice level (the most
    urgent), so the form can show the advice as soon as that answer is chosen."""
    out: dict[str, dict[str, str]] = {}
    for flag in definition.flags:
        if not flag.advice:
            continue
        for value in flag.when.values():
            current = out.setdefault(flag.when.question, {}).get(value)
            if current is None or ADVICE_LEVELS.index(flag.advice) < ADVICE_LEVELS.index(current):
                out[flag.when.question][value] = flag.advice
    return out
