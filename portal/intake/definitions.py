"""Questionnaire and consent definitions: data files, loaded and checked at start-up
(SPEC 2.1, 2.2).

Every file in ``portal/intake/questionnaires/`` named ``<key>_v<version>.toml`` is one
version of one definition: ``kind = "questionnaire"`` (steps, questions, flags, scoring) or
``kind = "consent"`` (the clinic's consent text). A response records the key and version it
answered, so old versions must stay in the folder for as long as their responses exist;
publishing a new version is adding a file with a higher version.

A broken file stops the application with a message that names the file and the question,
so that a mistake is caught by the first ``flask`` command or test run, not by a patient.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from portal.intake import types
from portal.intake.types.base import ELSEWHERE
from portal.intake.types.schema import (LOCALES, TEXT_CAP, Condition, Option, SettingsError, Text,
                                        text, text_problem)

__all__ = ["LOCALES", "TEXT_CAP", "Condition", "Option", "Text", "text"]

QUESTION_TYPES = ("short_text", "long_text", "single_choice", "multiple_choice", "yes_no",
                  "date", "number", "scale", "body_map", "rows", "signature")
COLUMN_TYPES = ("short_text", "scale")
FLAG_KINDS = ("red_flag", "precaution")
ADVICE_LEVELS = ("emergency", "urgent", "soon")
SCORING_KEYS = ("nprs_now", "nprs_average", "nprs_worst", "peg", "psfs")
DEFAULT_MAX_LENGTH = {"short_text": 200, "long_text": 2000}
FOLDER = Path(__file__).resolve().parent / "questionnaires"

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FILENAME = re.compile(r"^(?P<key>[a-z][a-z0-9_]*)_v(?P<version>\d+)\.toml$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DefinitionError(Exception):
    """A definition file is broken; the message names the file and the question."""


# --- the shapes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    id: str
    type: str
    label: Text
    max_length: int = 100


@dataclass
class Question:
    id: str
    type: str
    label: Text
    step: int = 0
    help: Text | None = None
    required: bool = False
    max_length: int | None = None
    min: Any = None
    max: Any = None
    options: tuple[Option, ...] = ()
    show_if: Condition | None = None
    anchors: dict[str, Text] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()
    max_rows: int = 5
    min_rows: int = 0
    consent: str | None = None
    input_type: str | None = None
    autocomplete: str | None = None
    format: str | None = None
    unit: Text | None = None

    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    def option_label(self, value: str, locale: str) -> str:
        for option in self.options:
            if option.value == value:
                return text(option.label, locale)
        return value

    def column(self, column_id: str) -> Column | None:
        return next((c for c in self.columns if c.id == column_id), None)


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

    @property
    def review_step(self) -> Step:
        return self.steps[-1]

    def flag(self, code: str) -> Flag | None:
        return next((f for f in self.flags if f.code == code), None)

    @property
    def consent_key(self) -> str | None:
        return next((q.consent for q in self.questions.values() if q.type == "signature"),
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


def init_app(app: Flask) -> None:
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

    def fail(self, where: str, problem: str):
        raise DefinitionError(f"{self.source}: {where}: {problem}")

    def text(self, value: Any, where: str, what: str, required: bool = True) -> Text | None:
        if value is None and not required:
            return None
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


# Settings of the types that have no class yet (portal.intake.types).
ELSEWHERE.update({"min": "min and max are for number and date questions",
                  "max": "min and max are for number and date questions",
                  "columns": "columns and rows settings are for rows questions",
                  "max_rows": "columns and rows settings are for rows questions",
                  "min_rows": "columns and rows settings are for rows questions",
                  "consent": "consent is for signature questions"})
_LEGACY_SETTINGS = {"min", "max", "anchors", "columns", "max_rows", "min_rows", "consent",
                    "unit"}

types.SETTINGS |= _LEGACY_SETTINGS

_QUESTION_KEYS = {"id", "type", "label", "help", "required", "max_length", "min", "max",
                  "options", "show_if", "anchors", "columns", "max_rows", "min_rows",
                  "consent", "input_type", "autocomplete", "format", "unit"}


def parse_questionnaire(data: dict, source: str, reg: Registry) -> Questionnaire:
    c = _Checker(source)
    c.keys(data, {"kind", "key", "version", "title", "advice", "steps", "flags", "scoring"},
           "questionnaire")
    title = c.text(data.get("title"), "questionnaire", "title")
    advice = {}
    for level, entry in (data.get("advice") or {}).items():
        where = f"advice {level!r}"
        if level not in ADVICE_LEVELS:
            c.fail(where, f"level must be one of {ADVICE_LEVELS}")
        c.keys(entry, {"title", "text"}, where)
        advice[level] = Advice(level, c.text(entry.get("title"), where, "title"),
                               c.text(entry.get("text"), where, "text"))

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or len(raw_steps) < 2:
        c.fail("steps", "a questionnaire needs question steps and a review step")
    steps: list[Step] = []
    seen: dict[str, Question] = {}
    step_ids: set[str] = set()
    for number, raw in enumerate(raw_steps, start=1):
        where = f"step {number}"
        c.keys(raw, {"id", "kind", "title", "intro", "questions"}, where)
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not _ID.match(step_id) or step_id in step_ids:
            c.fail(where, "needs a unique id of lower-case letters, digits and _")
        step_ids.add(step_id)
        kind = raw.get("kind", "questions")
        if kind not in ("questions", "review"):
            c.fail(where, 'kind must be "questions" or "review"')
        last = number == len(raw_steps)
        if (kind == "review") != last:
            c.fail(where, "the review step comes last, and only there")
        step = Step(number, step_id, c.text(raw.get("title"), where, "title"), kind,
                    c.text(raw.get("intro"), where, "intro", required=False))
        questions = raw.get("questions") or []
        if kind == "review" and questions:
            c.fail(where, "the review step has no questions of its own")
        if kind == "questions" and not questions:
            c.fail(where, "has no questions")
        for raw_q in questions:
            q = _parse_question(c, raw_q, number, seen, reg)
            seen[q.id] = q
            step.questions.append(q)
        steps.append(step)

    flags = _parse_flags(c, data.get("flags") or [], seen, advice)
    scoring = _parse_scoring(c, data.get("scoring") or {}, seen)
    return Questionnaire(data["key"], data["version"], title, steps, flags, advice, scoring,
                         source)


def _parse_question(c: _Checker, raw: Any, step: int, seen: dict[str, Question],
                    reg: Registry) -> Question:
    if not isinstance(raw, dict):
        c.fail(f"step {step}", "a question must be a table")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        c.fail(f"step {step}", f"question id {qid!r} must be lower-case letters, digits and _")
    where = f"question {qid!r}"
    if qid in seen:
        c.fail(where, "the id is used twice")
    c.keys(raw, _QUESTION_KEYS, where)
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        c.fail(where, f"type {qtype!r} is not one of {QUESTION_TYPES}")
    if qtype in types.TYPES:
        try:
            q = types.build(raw, step, {k for k, _v in reg.consents})
        except SettingsError as error:
            c.fail(where + error.where, error.problem)
        if "show_if" in raw:
            q.show_if = _parse_condition(c, raw["show_if"], where, seen, same_step=step)
        return q
    required = raw.get("required", False)
    if not isinstance(required, bool):
        c.fail(where, "required must be true or false")
    q = Question(id=qid, type=qtype, step=step, label=c.text(raw.get("label"), where, "label"),
                 help=c.text(raw.get("help"), where, "help", required=False),
                 required=required, input_type=raw.get("input_type"),
                 autocomplete=raw.get("autocomplete"), format=raw.get("format"),
                 unit=c.text(raw.get("unit"), where, "unit", required=False))
    if q.input_type not in (None, "text", "tel", "email"):
        c.fail(where, "input_type must be text, tel or email")
    if q.format not in (None, "phone"):
        c.fail(where, 'format must be "phone"')

    if "max_length" in raw:
        c.fail(where, "max_length is for text questions")
    if "options" in raw:
        c.fail(where, "options are for choice questions")

    if qtype == "number":
        q.min, q.max = raw.get("min"), raw.get("max")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (q.min, q.max)) \
                or q.min >= q.max or abs(q.min) > 999_999 or abs(q.max) > 999_999:
            c.fail(where, "a number question needs whole-number min < max (at most 999999)")
    elif qtype == "date":
        q.min, q.max = raw.get("min", "1900-01-01"), raw.get("max", "today")
        for bound in (q.min, q.max):
            if bound != "today" and (not isinstance(bound, str) or not _DATE.match(bound)
                                     or not _valid_date(bound)):
                c.fail(where, f'date bound {bound!r} must be "today" or YYYY-MM-DD')
    elif qtype == "scale":
        q.min, q.max = 0, 10
        anchors = raw.get("anchors") or {}
        c.keys(anchors, {"low", "high"}, where + " anchors")
        q.anchors = {k: c.text(v, where, f"anchor {k}") for k, v in anchors.items()}
    elif "min" in raw or "max" in raw:
        c.fail(where, "min and max are for number and date questions")

    if qtype == "rows":
        cols = raw.get("columns")
        if not isinstance(cols, list) or not cols:
            c.fail(where, "a rows question needs columns")
        parsed = []
        for col in cols:
            cid = col.get("id") if isinstance(col, dict) else None
            if not isinstance(cid, str) or not _ID.match(cid):
                c.fail(where, f"column id {cid!r} is not valid")
            c.keys(col, {"id", "type", "label", "max_length"}, f"{where} column {cid!r}")
            if col.get("type") not in COLUMN_TYPES:
                c.fail(where, f"column {cid!r} type must be one of {COLUMN_TYPES}")
            max_length = col.get("max_length", 100)
            if not isinstance(max_length, int) or not 1 <= max_length <= 500:
                c.fail(where, f"column {cid!r} max_length must be from 1 to 500")
            parsed.append(Column(cid, col["type"], c.text(col.get("label"), where,
                                                          f"column {cid!r} label"),
                                 max_length))
        if len({p.id for p in parsed}) != len(parsed):
            c.fail(where, "column ids must be unique")
        if [p.type for p in parsed].count("short_text") != 1:
            c.fail(where, "a rows question needs exactly one short_text column (the name)")
        q.columns = tuple(parsed)
        q.max_rows = raw.get("max_rows", 5)
        q.min_rows = raw.get("min_rows", 1 if required else 0)
        if not isinstance(q.max_rows, int) or not 1 <= q.max_rows <= 10 \
                or not isinstance(q.min_rows, int) or not 0 <= q.min_rows <= q.max_rows:
            c.fail(where, "max_rows must be 1 to 10 and min_rows 0 to max_rows")
    elif "columns" in raw or "max_rows" in raw or "min_rows" in raw:
        c.fail(where, "columns and rows settings are for rows questions")

    if qtype == "signature":
        q.consent = raw.get("consent")
        if not isinstance(q.consent, str) or not any(k == q.consent for k, _v in reg.consents):
            c.fail(where, f"consent {q.consent!r} is not a consent definition in the folder")
    elif "consent" in raw:
        c.fail(where, "consent is for signature questions")

    if "show_if" in raw:
        q.show_if = _parse_condition(c, raw["show_if"], where, seen, same_step=step)
    return q


def _valid_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _parse_condition(c: _Checker, raw: Any, where: str, seen: dict[str, Question],
                     same_step: int | None = None) -> Condition:
    if not isinstance(raw, dict):
        c.fail(where, "a condition is a table like { question = \"x\", equals = \"yes\" }")
    c.keys(raw, {"question", "equals", "any_of", "includes"}, where + " condition")
    target = seen.get(raw.get("question"))
    if target is None:
        c.fail(where, f"condition refers to {raw.get('question')!r}, which is not an earlier "
                      "question")
    if same_step is not None and target.step != same_step:
        c.fail(where, "a follow-up depends on a question of its own step")
    if getattr(target, "condition", None) is None:
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


def _parse_flags(c: _Checker, raw: list, questions: dict[str, Question],
                 advice: dict[str, Advice]) -> list[Flag]:
    flags = []
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
            c.fail(where, "a red flag needs advice (emergency, urgent or soon) defined above")
        if entry["kind"] == "precaution" and level is not None:
            c.fail(where, "precautions carry no urgent-care advice")
        details = tuple(entry.get("details") or ())
        for qid in details:
            if qid not in questions:
                c.fail(where, f"detail {qid!r} is not a question")
        flags.append(Flag(code, entry["kind"], _parse_condition(c, entry.get("when"), where,
                                                                questions),
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
            if key == "psfs" and not any(col.type == "scale" for col in q.columns):
                c.fail(where, f"{qid!r} needs a scale column (the score)")
    return dict(raw)
