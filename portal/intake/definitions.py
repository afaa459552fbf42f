"""Questionnaire and consent definitions: data files, loaded and checked at start-up
(SPEC 2.1, 2.2).

Every file in ``portal/intake/questionnaires/`` named ``<key>_v<version>.toml`` is one
version of one definition: ``kind = "questionnaire"`` (steps, questions, flags, scoring) or
``kind = "consent"`` (the clinic's consent text). A response records the key and version it
answered, so old versions must stay in the folder for as long as their responses exist;
publishing a new version is adding a file with a higher version.

A broken file stops the application with a message that names the file and the question,
so that a mistake is caught by the first ``flask`` command or test run, not by a patient.
The shapes a file is read into are in ``shapes.py``; each question's own settings are
checked by its type (portal.intake.types).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from flask import current_app
from flask.sansio.app import App

from portal.intake import types
from portal.intake.shapes import Advice, Consent, Flag, Questionnaire, Step
from portal.intake.types import Question, SettingsError
from portal.intake.types.rows import COLUMN_TYPES, Rows
from portal.intake.types.schema import (
    ID,
    LOCALES,
    TEXT_CAP,
    Condition,
    Option,
    Text,
    text,
    text_problem,
)

__all__ = ["COLUMN_TYPES", "LOCALES", "TEXT_CAP", "Advice", "Condition", "Consent", "Flag",
           "Option", "Question", "Questionnaire", "Step", "Text", "text"]

# The TOML ``type`` names, one class each in portal/intake/types/.
QUESTION_TYPES = tuple(types.TYPES)
# A note is for the practitioner only: a risk factor that is not an answer to worry about
# on its own (age over 50, AHCPR table via CLINICAL.md; single red flags are weak evidence,
# NICE), so it shows the patient no advice and does not hold up a session as a red flag does.
FLAG_KINDS = ("red_flag", "precaution", "note")
# Most urgent first; "practitioner": tell the practitioner, who reviews it before treatment.
ADVICE_LEVELS = ("emergency", "urgent", "soon", "practitioner")
SCORING_KEYS = ("nprs_now", "nprs_average", "nprs_worst", "peg", "psfs")
FOLDER = Path(__file__).resolve().parent / "questionnaires"

_ID = re.compile(ID)
_FILENAME = re.compile(r"^(?P<key>[a-z][a-z0-9_]*)_v(?P<version>\d+)\.toml$")


class DefinitionError(Exception):
    """A definition file is broken; the message names the file and the question."""


# --- the registry -------------------------------------------------------------------------

@dataclass
class Registry:
    questionnaires: dict[tuple[str, int], Questionnaire] = field(default_factory=dict)
    consents: dict[tuple[str, int], Consent] = field(default_factory=dict)

    def questionnaire(self, key: str, version: int | None = None) -> Questionnaire:
        """A given version, or the newest one when ``version`` is None."""
        if version is None:
            version = max(v for k, v in self.questionnaires if k == key)
        return self.questionnaires[(key, version)]

    def consent(self, key: str, version: int | None = None) -> Consent:
        if version is None:
            version = max(v for k, v in self.consents if k == key)
        return self.consents[(key, version)]


def registry() -> Registry:
    return current_app.extensions["intake_definitions"]


def init_app(app: App) -> None:
    folder = Path(app.config.get("INTAKE_DEFINITIONS_DIR") or FOLDER)
    app.extensions["intake_definitions"] = load_cached(folder)


# Parsed definitions by folder and by the files' names, sizes and modification times: an
# app made again (every test makes one) reuses them; a file changed on disk is read again.
_LOADED: dict[tuple, Registry] = {}


def load_cached(folder: Path) -> Registry:
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                  for p in sorted(folder.glob("*.toml")))
    key = (str(folder.resolve()), stamp)
    if key not in _LOADED:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = load_folder(folder)
    return _LOADED[key]


def load_folder(folder: Path) -> Registry:
    reg = Registry()
    files = sorted(folder.glob("*.toml"))
    raw = []
    for path in files:
        match = _FILENAME.match(path.name)
        if not match:
            raise DefinitionError(f"{path.name}: name it <key>_v<version>.toml")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DefinitionError(f"{path.name}: not valid TOML: {exc}") from exc
        raw.append((path, match, data))
    # Consents first: questionnaires name the consent they ask to sign.
    for path, match, data in sorted(raw, key=lambda item: item[2].get("kind") != "consent"):
        kind = data.get("kind")
        _check_identity(path.name, match, data)
        if kind == "consent":
            consent = parse_consent(data, path.name)
            reg.consents[(consent.key, consent.version)] = consent
        elif kind == "questionnaire":
            questionnaire = parse_questionnaire(data, path.name, reg)
            reg.questionnaires[(questionnaire.key, questionnaire.version)] = questionnaire
        else:
            raise DefinitionError(f"{path.name}: kind must be \"questionnaire\" or \"consent\"")
    if not reg.questionnaires:
        raise DefinitionError(f"{folder}: no questionnaire definition found")
    return reg


def _check_identity(name: str, match: re.Match, data: dict) -> None:
    if data.get("key") != match["key"] or data.get("version") != int(match["version"]):
        raise DefinitionError(f"{name}: key and version inside the file must match its name")


# --- parsing and checking -----------------------------------------------------------------

class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise DefinitionError(f"{self.source}: {where}: {problem}")

    def optional_text(self, value: Any, where: str, what: str) -> Text | None:
        return None if value is None else self.text(value, where, what)

    def text(self, value: Any, where: str, what: str) -> Text:
        found = text_problem(value)
        if found:
            self.fail(where, f"{what} {found}")
        return {loc: value[loc].strip() for loc in LOCALES}

    def keys(self, data: dict, allowed: set[str], where: str) -> None:
        unknown = set(data) - allowed
        if unknown:
            self.fail(where, f"unknown setting(s) {sorted(unknown)} (a typo?)")


def parse_consent(data: dict, source: str) -> Consent:
    c = _Checker(source)
    c.keys(data, {"kind", "key", "version", "title", "text"}, "consent")
    return Consent(key=data["key"], version=data["version"],
                   title=c.text(data.get("title"), "consent", "title"),
                   body=c.text(data.get("text"), "consent", "text"), source=source)


def parse_questionnaire(data: dict, source: str, reg: Registry) -> Questionnaire:
    c = _Checker(source)
    c.keys(data, {"kind", "key", "version", "title", "advice", "steps", "flags", "scoring"},
           "questionnaire")
    title = c.text(data.get("title"), "questionnaire", "title")
    advice = _parse_advice(c, data.get("advice") or {})
    seen: dict[str, Question] = {}
    steps = _parse_steps(c, data.get("steps"), seen, {k for k, _v in reg.consents})
    flags = _parse_flags(c, data.get("flags") or [], seen, advice)
    scoring = _parse_scoring(c, data.get("scoring") or {}, seen)
    return Questionnaire(data["key"], data["version"], title, steps, flags, advice, scoring,
                         source)


def _parse_advice(c: _Checker, raw: dict) -> dict[str, Advice]:
    advice = {}
    for level, entry in raw.items():
        where = f"advice {level!r}"
        if level not in ADVICE_LEVELS:
            c.fail(where, f"level must be one of {ADVICE_LEVELS}")
        c.keys(entry, {"title", "text"}, where)
        advice[level] = Advice(level, c.text(entry.get("title"), where, "title"),
                               c.text(entry.get("text"), where, "text"))
    return advice


def _parse_steps(c: _Checker, raw_steps: Any, seen: dict[str, Question],
                 consents: set[str]) -> list[Step]:
    """The steps and their questions (added to ``seen`` as they come: a follow-up depends
    on an earlier question)."""
    if not isinstance(raw_steps, list) or len(raw_steps) < 2:
        c.fail("steps", "a questionnaire needs question steps and a review step")
    steps: list[Step] = []
    for number, raw in enumerate(raw_steps, start=1):
        step = _parse_step(c, raw, number, number == len(raw_steps), steps)
        for raw_q in raw.get("questions") or []:
            question = _parse_question(c, raw_q, number, seen, consents)
            seen[question.id] = question
            step.questions.append(question)
        steps.append(step)
    return steps


def _parse_step(c: _Checker, raw: dict, number: int, last: bool, before: list[Step]) -> Step:
    where = f"step {number}"
    c.keys(raw, {"id", "kind", "title", "intro", "questions"}, where)
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id) \
            or any(s.id == step_id for s in before):
        c.fail(where, "needs a unique id of lower-case letters, digits and _")
    kind = raw.get("kind", "questions")
    if kind not in ("questions", "review"):
        c.fail(where, 'kind must be "questions" or "review"')
    if (kind == "review") != last:
        c.fail(where, "the review step comes last, and only there")
    step = Step(number, step_id, c.text(raw.get("title"), where, "title"), kind,
                c.optional_text(raw.get("intro"), where, "intro"))
    if kind == "review" and raw.get("questions"):
        c.fail(where, "the review step has no questions of its own")
    if kind == "questions" and not raw.get("questions"):
        c.fail(where, "has no questions")
    return step


def _parse_question(c: _Checker, raw: Any, step: int, seen: dict[str, Question],
                    consents: set[str]) -> Question:
    """The id and the follow-up are checked here; the rest by the question's type."""
    if not isinstance(raw, dict):
        c.fail(f"step {step}", "a question must be a table")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        c.fail(f"step {step}", f"question id {qid!r} must be lower-case letters, digits and _")
    where = f"question {qid!r}"
    if qid in seen:
        c.fail(where, "the id is used twice")
    try:
        question = types.build(raw, step, consents)
    except SettingsError as error:
        c.fail(where + error.where, error.problem)
    if "show_if" in raw:
        question.show_if = _parse_condition(c, raw["show_if"], where, seen, same_step=step)
    return question


def _parse_condition(c: _Checker, raw: Any, where: str, seen: dict[str, Question],
                     same_step: int | None = None, age: bool = False) -> Condition:
    """``age``: a flag's condition, which may be ``older_than`` on a date question."""
    if not isinstance(raw, dict):
        c.fail(where, "a condition is a table like { question = \"x\", equals = \"yes\" }")
    c.keys(raw, {"question", "equals", "any_of", "includes"} | ({"older_than"} if age else set()),
           where + " condition")
    named = raw.get("question")
    target = seen.get(named) if isinstance(named, str) else None
    if target is None:
        c.fail(where, f"condition refers to {raw.get('question')!r}, which is not an earlier "
                      "question")
    if "older_than" in raw:
        return _age_condition(c, raw, where, target)
    if same_step is not None and target.step != same_step:
        c.fail(where, "a follow-up depends on a question of its own step")
    if target.condition is None:
        c.fail(where, f"condition on {target.id!r}: only choice questions can be conditions")
    given = [k for k in ("equals", "any_of", "includes") if k in raw]
    if len(given) != 1:
        c.fail(where, "a condition has exactly one of equals, any_of, includes")
    if (given[0] == "includes") != (target.condition == "includes"):
        c.fail(where, "use includes for multiple-choice questions, equals or any_of otherwise")
    cond = Condition(target.id, equals=raw.get("equals"),
                     any_of=tuple(raw.get("any_of") or ()), includes=raw.get("includes"))
    bad = [v for v in cond.values() if v not in target.option_values()]
    if bad or not cond.values():
        c.fail(where, f"condition values {bad} are not options of {target.id!r}")
    return cond


def _age_condition(c: _Checker, raw: dict, where: str, target: Question) -> Condition:
    years = raw["older_than"]
    if len(raw) != 2:
        c.fail(where, "older_than stands alone with its question")
    if target.type != "date":
        c.fail(where, f"older_than needs a date question (a date of birth), not {target.id!r}")
    if isinstance(years, bool) or not isinstance(years, int) or not 0 < years < 130:
        c.fail(where, "older_than is a whole number of years from 1 to 129")
    return Condition(target.id, older_than=years)


def _parse_flags(c: _Checker, raw: list, questions: dict[str, Question],
                 advice: dict[str, Advice]) -> list[Flag]:
    flags: list[Flag] = []
    for entry in raw:
        code = entry.get("code") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not _ID.match(code):
            c.fail("flags", f"flag code {code!r} is not valid")
        where = f"flag {code!r}"
        c.keys(entry, {"code", "kind", "when", "label", "advice", "details"}, where)
        if any(f.code == code for f in flags):
            c.fail(where, "the code is used twice")
        if entry.get("kind") not in FLAG_KINDS:
            c.fail(where, f"kind must be one of {FLAG_KINDS}")
        level = entry.get("advice")
        if entry["kind"] == "red_flag" and level not in advice:
            c.fail(where, f"a red flag needs advice ({', '.join(ADVICE_LEVELS)}) defined above")
        if entry["kind"] != "red_flag" and level is not None:
            c.fail(where, "precautions and notes carry no urgent-care advice")
        details = tuple(entry.get("details") or ())
        for qid in details:
            if qid not in questions:
                c.fail(where, f"detail {qid!r} is not a question")
        flags.append(Flag(code, entry["kind"], _parse_condition(c, entry.get("when"), where,
                                                                questions, age=True),
                          c.text(entry.get("label"), where, "label"), level, details))
    return flags


def _parse_scoring(c: _Checker, raw: dict, questions: dict[str, Question]) -> dict[str, Any]:
    c.keys(raw, set(SCORING_KEYS), "scoring")
    for key, value in raw.items():
        where = f"scoring {key!r}"
        items = value if key == "peg" else [value]
        if key == "peg" and (not isinstance(value, list) or len(value) != 3):
            c.fail(where, "PEG takes three items: pain, enjoyment of life, general activity")
        for qid in items:
            q = questions.get(qid)
            if q is None:
                c.fail(where, f"{qid!r} is not a question")
            wanted = "rows" if key == "psfs" else "scale"
            if q.type != wanted:
                c.fail(where, f"{qid!r} must be a {wanted} question")
            if isinstance(q, Rows) and q.score_column is None:
                c.fail(where, f"{qid!r} needs a scale column (the score)")
    return dict(raw)
