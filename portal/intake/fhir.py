"""The intake as FHIR R4 definitions (SPEC 5.5; CLINICAL.md, "Codes for export"): the
``Questionnaire`` a response answers, and the ``CodeSystem``s that hold the portal's own
codes. Built from the questionnaire's definition file, so the Questionnaire is always the one
the patient answered; exported in a patient's Bundle and served at their canonical URLs.

* Questionnaire (https://hl7.org/fhir/R4/questionnaire.html): canonical URL
  ``<BASE_URL>/fhir/Questionnaire/<key>``, ``version`` the definition's version; one item
  per question, in order, with the same linkId, text and answer type as the response's
  items (each question type gives its own: ``fhir_question``), and ``enableWhen`` for a
  follow-up shown on another answer.
* Answer codes: ``<BASE_URL>/fhir/CodeSystem/<key>``, one code per option of each choice
  question (``<question id>.<option value>``), versioned with the questionnaire.
* Score codes: ``<BASE_URL>/fhir/CodeSystem/ims-scores``, the scores the portal exports as
  Observations, next to LOINC where LOINC has a code: a code for each pain question (now,
  average and worst over the past week, after a session) so that three answers given the
  same LOINC code 72514-3 stay apart, and the PEG-3 and PSFS scores and their items.

A coding in the portal's code systems always says so: every coding of the export has a
``system`` (a receiving system cannot read a bare code).
"""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from portal.intake.definitions import Questionnaire, registry
from portal.intake.types import Choice
from portal.intake.types.schema import LOCALES, text

FHIR_VERSION = "4.0.1"
LOINC = "http://loinc.org"
# LOINC 72514-3 "Pain severity - 0-10 verbal numeric rating [Score] - Reported" (active;
# 56840-2 is discouraged): https://loinc.org/72514-3 (CLINICAL.md, "Codes for export").
PAIN_SEVERITY = {"system": LOINC, "code": "72514-3",
                 "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}
SCORES = "ims-scores"
# Scores as quantities in UCUM's annotation unit {score}: an annotation in curly braces is
# a unit of 1 that only names what is counted (The Unified Code for Units of Measure,
# https://ucum.org/ucum; CLINICAL.md, "Codes for export").
UCUM = "http://unitsofmeasure.org"


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def resource_id(kind: str, key: str) -> str:
    """A stable id for one resource of this clinic: UUID version 5 of ``kind/key`` in a
    namespace made from the clinic's address (RFC 4122 §4.3), the same at every export."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, base_url())
    return str(uuid.uuid5(namespace, f"{kind}/{key}"))


def questionnaire_url(definition: Questionnaire) -> str:
    return f"{base_url()}/fhir/Questionnaire/{definition.key}"


def answers_url(definition: Questionnaire) -> str:
    return f"{base_url()}/fhir/CodeSystem/{definition.key}"


def scores_url() -> str:
    return f"{base_url()}/fhir/CodeSystem/{SCORES}"


def identifier_system(kind: str) -> str:
    """The system of the portal's own identifiers of one kind (``intake-response``)."""
    return f"{base_url()}/fhir/sid/{kind}"


def quantity(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def with_system(node: Any, system: str) -> Any:
    """``node`` with ``system`` given to every answer coding that has none."""
    if isinstance(node, list):
        return [with_system(n, system) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: with_system(v, system) for k, v in node.items()}
    for key in ("valueCoding", "answerCoding"):
        if isinstance(out.get(key), dict) and "system" not in out[key]:
            out[key] = {"system": system, **out[key]}
    return out


def _language(locale: str) -> str:
    """A locale of the portal ("fr_CA") as a BCP 47 tag ("fr-CA"), as FHIR wants it."""
    return locale.replace("_", "-")


# --- the portal's score codes ---------------------------------------------------------------

def score_labels() -> dict[str, str]:
    return {
        "nprs-now": _("Pain now (0-10)"),
        "nprs-week-average": _("Average pain over the past week (0-10)"),
        "nprs-week-worst": _("Worst pain over the past week (0-10)"),
        # A session's follow-up score (SessionRating.score_question): ratings stored before
        # the average over 24 hours was asked gave the pain at the time of rating.
        "nprs-session": _("Pain rating after a treatment session (0-10)"),
        "nprs-session-average-24h": _("Average pain over the past 24 hours, rated from the "
                                      "day after a treatment session (0-10)"),
        "nprs-session-now": _("Pain now, rated from the day after a treatment session "
                              "(0-10)"),
        "peg": _("PEG-3 score: mean of pain, enjoyment of life and general activity (0-10)"),
        "peg-pain": _("PEG-3: average pain over the past week (0-10)"),
        "peg-enjoyment": _("PEG-3: interference with enjoyment of life (0-10)"),
        "peg-activity": _("PEG-3: interference with general activity (0-10)"),
        "psfs": _("Patient-Specific Functional Scale: mean of the activity scores (0-10)"),
        "psfs-activity": _("Patient-Specific Functional Scale: one activity (0-10)"),
    }


# The intake's scoring keys (portal.intake.definitions.SCORING_KEYS) as score codes.
INTAKE_PAIN = {"nprs_now": "nprs-now", "nprs_average": "nprs-week-average",
               "nprs_worst": "nprs-week-worst"}
PEG_ITEMS = ("peg-pain", "peg-enjoyment", "peg-activity")


def score_coding(code: str) -> dict[str, str]:
    return {"system": scores_url(), "code": code, "display": score_labels()[code]}


def scores_code_system(locale: str) -> dict[str, Any]:
    """The CodeSystem of the portal's score codes (https://hl7.org/fhir/R4/codesystem.html)."""
    return {
        "resourceType": "CodeSystem", "id": resource_id("CodeSystem", SCORES),
        "url": scores_url(), "version": "1", "name": "ImsPortalScores",
        "title": _("Scores exported by the patient portal"), "status": "active",
        "language": _language(locale),
        "caseSensitive": True, "content": "complete",
        "concept": [{"code": code, "display": label} for code, label in score_labels().items()],
    }


# --- one questionnaire ----------------------------------------------------------------------

def _item_codes(definition: Questionnaire) -> dict[str, list[dict[str, str]]]:
    """The codes of the questions that are items of a score: the three pain questions (LOINC
    72514-3 and the portal's code of each) and the PEG-3 items."""
    codes: dict[str, list[dict[str, str]]] = {}
    for key, code in INTAKE_PAIN.items():
        if key in definition.scoring:
            codes.setdefault(definition.scoring[key], []).extend(
                [PAIN_SEVERITY, score_coding(code)])
    for qid, code in zip(definition.scoring.get("peg", ()), PEG_ITEMS, strict=False):
        codes.setdefault(qid, []).append(score_coding(code))
    return codes


def _enable_when(definition: Questionnaire, item: dict[str, Any], question) -> None:
    """A follow-up's condition as ``enableWhen``: shown when the question it follows has
    one of the answers (https://hl7.org/fhir/R4/questionnaire-definitions.html
    #Questionnaire.item.enableWhen; "=" on a repeating question matches any of its answers)."""
    condition = question.show_if
    asked = definition.questions.get(condition.question)
    if not isinstance(asked, Choice):
        return
    item["enableWhen"] = [{"question": asked.id, "operator": "=",
                           "answerCoding": {"code": asked.fhir_code(value)}}
                          for value in condition.values()]
    if len(item["enableWhen"]) > 1:
        item["enableBehavior"] = "any"


def questionnaire(definition: Questionnaire, locale: str) -> dict[str, Any]:
    """The definition as a FHIR R4 Questionnaire, in ``locale``."""
    codes = _item_codes(definition)
    items = []
    for step in definition.steps:
        for question in step.questions:
            item = question.fhir_question(locale)
            if question.id in codes:
                item["code"] = codes[question.id]
            if question.show_if is not None:
                _enable_when(definition, item, question)
            items.append(item)
    return {
        "resourceType": "Questionnaire",
        "id": resource_id("Questionnaire", f"{definition.key}|{definition.version}"),
        "url": questionnaire_url(definition), "version": str(definition.version),
        "name": "".join(part.capitalize() for part in definition.key.split("_")),
        "title": text(definition.title, locale), "status": "active",
        "language": _language(locale), "subjectType": ["Patient"],
        "item": with_system(items, answers_url(definition)),
    }


def answers_code_system(definition: Questionnaire, locale: str) -> dict[str, Any]:
    """The codes of the questionnaire's options, each with its text in every language."""
    concepts = []
    for question in definition.questions.values():
        if not isinstance(question, Choice):
            continue
        for option in question.options:
            concepts.append({
                "code": question.fhir_code(option.value),
                "display": text(option.label, locale),
                "designation": [{"language": _language(loc), "value": text(option.label, loc)}
                                for loc in LOCALES],
            })
    return {
        "resourceType": "CodeSystem",
        "id": resource_id("CodeSystem", f"{definition.key}|{definition.version}"),
        "url": answers_url(definition), "version": str(definition.version),
        "name": "".join(part.capitalize() for part in definition.key.split("_")) + "Answers",
        "title": text(definition.title, locale), "status": "active",
        "language": _language(locale), "caseSensitive": True, "content": "complete",
        "concept": concepts,
    }


def published(key: str, version: int | None = None) -> Questionnaire | None:
    """A questionnaire the portal publishes: the given version, or the newest; None when
    there is no such questionnaire."""
    found = registry().questionnaires
    versions = [v for (k, v) in found if k == key]
    if not versions or (version is not None and version not in versions):
        return None
    return found[(key, version if version is not None else max(versions))]
