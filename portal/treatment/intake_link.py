"""What treatment needs from the intake and the documents, in one small adapter: whether a
patient may be treated (clearance and consent, SPEC 4.1), their NPRS baseline and their
PSFS activities (SPEC 2.7, 4.2, 4.3). Only the public functions of those features are used,
so a change there is fixed here, once.
"""
from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

from flask import has_request_context
from flask_babel import force_locale

from portal.documents import services as documents
from portal.intake import alerts
from portal.intake import consent as consents
from portal.intake import services as intake
from portal.intake.types.rows import Rows
from portal.models import Patient

# Sent when a submitted intake is amended (with the patient), in the amendment's transaction.
intake_amended = intake.intake_amended


def is_cleared(patient: Patient, on: date | None = None) -> bool:
    return documents.is_cleared(patient, on=on)


def consent_at(patient: Patient, at: datetime | None = None) -> consents.Covering:
    """Both parts of informed consent at ``at`` (default: now): the clinic's current consent
    signed before then and not withdrawn before then, and the practitioner's consent
    discussion for that signature recorded at or before then. A signature or a discussion
    dated after the session's time does not cover it (SPEC 4.1)."""
    return consents.covering(patient, at)


def unreviewed_red_flags(patient: Patient, at: datetime | None = None) -> list[str]:
    """The submitted intake's red flags (labels, in the reader's language) that no
    practitioner had reviewed by ``at`` (default: now). A review given after the session's
    time does not cover it (SPEC 4.1); an amendment clears the review (intake.amendments)."""
    # Outside a request (a task, the command line) there is no reader: English labels.
    with nullcontext() if has_request_context() else force_locale("en"):
        found = alerts.for_response(intake.submitted_response(patient))
    reviewed = found.reviewed_at
    if reviewed is not None and (at is None or _aware(reviewed) <= at):
        return []
    return [alert.label for alert in found.red_flags]


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; the portal stores UTC everywhere.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _scale(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10
    return value if ok else None


def nprs_baseline(patient: Patient) -> int | None:
    """The submitted intake's baseline: the average pain over the past week (amendments
    included)."""
    response = intake.submitted_response(patient)
    if response is None:
        return None
    return _scale(intake.effective_scores(response).get("nprs_baseline"))


def psfs_baseline(patient: Patient) -> list[tuple[str, int]]:
    """(activity, score at intake) for each PSFS activity the patient named and rated, in
    the patient's order. These are the activities asked again every third session."""
    response = intake.submitted_response(patient)
    if response is None:
        return []
    definition = intake.definition_for(response)
    qid = definition.scoring.get("psfs")
    question = definition.questions.get(qid) if qid else None
    if not qid or not isinstance(question, Rows):  # the loader makes "psfs" a rows question
        return []
    name_col = next((c.id for c in question.columns if c.type == "short_text"), None)
    score_col = next((c.id for c in question.columns if c.type == "scale"), None)
    rows = intake.effective_answers(response).get(qid) or []
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, dict):
            continue
        name = str(row.get(name_col) or "").strip()
        score = _scale(row.get(score_col))
        if name and score is not None and name not in seen:
            out.append((name, score))
            seen.add(name)
    return out


def pain_regions(patient: Patient) -> list[str]:
    """The body-map regions the patient marked in the submitted intake (amendments
    included), most painful first: a hint for the first session's regions (SPEC 4.1)."""
    response = intake.submitted_response(patient)
    if response is None:
        return []
    definition = intake.definition_for(response)
    answers = intake.effective_answers(response)
    for question in definition.questions.values():
        marks = answers.get(question.id) if question.type == "body_map" else None
        if isinstance(marks, dict):
            return [code for code, _n in sorted(
                marks.items(), key=lambda item: (-item[1] if isinstance(item[1], int) else 0,
                                                 item[0]))]
    return []
