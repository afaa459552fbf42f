"""Red flags and IMS precautions from the answers (SPEC 2.7).

The definition says which answer raises which flag (``[[flags]]`` in the questionnaire
file, with the sources cited there: the AHCPR red-flag table and the dry-needling
precautions of CLINICAL.md). Flags alert a practitioner and show the patient advice; they
never decide anything by themselves.
"""
from __future__ import annotations

from typing import Any

from portal.intake.answers import visible
from portal.intake.definitions import ADVICE_LEVELS, Flag, Questionnaire


def raised(definition: Questionnaire, answers: dict[str, Any]) -> list[Flag]:
    """Flags whose condition holds, red flags first, in the definition's order."""
    found = []
    for flag in definition.flags:
        question = definition.questions[flag.when.question]
        if visible(definition, question, answers) and flag.when.met(answers.get(question.id)):
            found.append(flag)
    return sorted(found, key=lambda f: f.kind != "red_flag")


def compute(definition: Questionnaire, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """What is stored on a submitted response: code, kind and advice level of each flag."""
    return [{"code": f.code, "kind": f.kind, "advice": f.advice}
            for f in raised(definition, answers)]


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
