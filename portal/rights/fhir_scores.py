"""The scores in a patient's FHIR bundle (portal.rights.fhir): each score the patient
reported, as an ``Observation`` (category ``survey``) with a ``valueQuantity`` in UCUM
``{score}`` (CLINICAL.md, "Codes for export"). The module docstring of portal.rights.fhir
says which scores, and with which codes."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _

from portal.intake import fhir as definitions
from portal.intake.definitions import Questionnaire
from portal.intake.questionnaires import scoring
from portal.intake.types.rows import Rows
from portal.models import IntakeResponse, Patient, SessionRating
from portal.treatment import services as treatment

PAIN_SEVERITY = definitions.PAIN_SEVERITY
SURVEY = {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
          "code": "survey", "display": "Survey"}


def instant(moment: datetime) -> str:
    """A FHIR dateTime/instant in UTC, to the second: 2025-05-01T18:00:00Z."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Ids:
    """Stable urn:uuid ids for one clinic (the same as the served definitions have)."""

    def __call__(self, kind: str, key: str) -> str:
        return definitions.resource_id(kind, key)


# --- Observations ---------------------------------------------------------------------------

def score_observation(ids: Ids, key: str, code: dict[str, Any], value: float,
                      when: datetime, patient_ref: dict[str, str], status: str = "final",
                      derived_from: dict[str, str] | None = None,
                      components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A score the patient reported, as a UCUM {score} quantity."""
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": ids("Observation", key),
        "status": status,
        "category": [{"coding": [SURVEY]}],
        "code": code,
        "subject": patient_ref,
        "effectiveDateTime": instant(when),
        # Reported by the patient: the patient is the performer.
        "performer": [patient_ref],
        "valueQuantity": definitions.quantity(value),
    }
    if derived_from is not None:
        resource["derivedFrom"] = [derived_from]
    if components:
        resource["component"] = components
    return resource


def _pain_code(code: str, label: str) -> dict[str, Any]:
    """LOINC 72514-3 and the portal's code of the question asked."""
    return {"coding": [PAIN_SEVERITY, definitions.score_coding(code)], "text": label}


def _score_code(code: str, label: str | None = None) -> dict[str, Any]:
    coding = definitions.score_coding(code)
    return {"coding": [coding], "text": label or coding["display"]}


def _component(code: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"code": code, "valueQuantity": definitions.quantity(value)}


def _psfs_components(rows: Any, name: str, score: str) -> list[dict[str, Any]]:
    """One component per rated activity (a stored PSFS answer's rows), named by the
    patient."""
    if not isinstance(rows, list):
        return []
    return [_component(_score_code("psfs-activity", str(row[name])), row[score])
            for row in rows if isinstance(row, dict) and scoring.nprs(row.get(score)) is not None
            and row.get(name)]


def _intake_pain_labels() -> dict[str, str]:
    return {"nprs_now": _("Pain now, at intake"),
            "nprs_average": _("Average pain over the past week, at intake"),
            "nprs_worst": _("Worst pain over the past week, at intake")}


class _IntakeScores:
    """The scores of one submitted intake, as Observations derived from its response."""

    def __init__(self, ids: Ids, response: IntakeResponse, definition: Questionnaire,
                 answers: dict[str, Any], patient_ref: dict[str, str],
                 response_ref: dict[str, str]):
        assert response.submitted_at is not None  # a submitted response (check constraint)
        self.ids, self.response, self.definition = ids, response, definition
        self.answers, self.patient_ref, self.response_ref = answers, patient_ref, response_ref
        self.when = response.submitted_at
        self.amended = {qid for a in response.amendments for qid in a.changes}

    def observation(self, key: str, code: dict[str, Any], value: float, asked: list[str],
                    components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        status = "amended" if self.amended.intersection(asked) else "final"
        return score_observation(self.ids, f"{self.response.public_id}/{key}", code, value,
                                 self.when, self.patient_ref, status=status,
                                 derived_from=self.response_ref, components=components)

    def pain(self) -> list[dict[str, Any]]:
        out = []
        for key, label in _intake_pain_labels().items():
            qid = self.definition.scoring.get(key)
            value = scoring.nprs(self.answers.get(qid)) if qid else None
            if qid and value is not None:
                out.append(self.observation(
                    key, _pain_code(definitions.INTAKE_PAIN[key], label), value, [qid]))
        return out

    def peg(self) -> list[dict[str, Any]]:
        qids = list(self.definition.scoring.get("peg", ()))
        items = [self.answers.get(qid) for qid in qids]
        mean = scoring.peg(*items) if len(items) == 3 else None
        if mean is None:
            return []
        parts = [_component(_score_code(code), value)
                 for code, value in zip(definitions.PEG_ITEMS, items, strict=True)]
        return [self.observation("peg", _score_code("peg"), mean, qids, parts)]

    def psfs(self) -> list[dict[str, Any]]:
        question = self.definition.questions.get(self.definition.scoring.get("psfs", ""))
        if not isinstance(question, Rows) or question.score_column is None:
            return []
        rows = self.answers.get(question.id)
        mean = scoring.psfs(question.scores(rows))
        if mean is None:
            return []
        parts = _psfs_components(rows, question.name_column.id, question.score_column.id)
        return [self.observation("psfs", _score_code("psfs"), mean, [question.id], parts)]


def intake_observations(ids: Ids, response: IntakeResponse, definition: Questionnaire,
                        answers: dict[str, Any], patient_ref: dict[str, str],
                        response_ref: dict[str, str]) -> list[dict[str, Any]]:
    scores = _IntakeScores(ids, response, definition, answers, patient_ref, response_ref)
    return scores.pain() + scores.peg() + scores.psfs()


def _rating_status(rating: SessionRating) -> str:
    return "amended" if rating.updated_at > rating.created_at else "final"


def _follow_up_code(rating: SessionRating, number: int) -> dict[str, Any]:
    """The question the rating's follow-up score answered, as its own code: the average
    pain over the past 24 hours (IMMPACT's core measure: Dworkin et al., Pain
    2005;113:9-19), or for ratings stored before it was asked, the pain at the time of
    rating ("nprs-session")."""
    if rating.score_question == "average_24h":
        return _pain_code("nprs-session-average-24h",
                          _("Average pain over the past 24 hours, session %(n)d", n=number))
    return _pain_code("nprs-session", _("Pain after session %(n)d", n=number))


def session_observations(ids: Ids, patient: Patient,
                         patient_ref: dict[str, str]) -> list[dict[str, Any]]:
    """Each counted session's follow-up score (coded by the question it answered), its pain
    now when that was asked apart, and its PSFS when the rating asked it again."""
    out = []
    for rated in treatment.rated_sessions(patient):
        rating = rated.rating
        out.append(score_observation(
            ids, rating.public_id, _follow_up_code(rating, rated.number),
            rating.follow_up_score, rating.created_at, patient_ref,
            status=_rating_status(rating)))
        if rating.score_question == "average_24h":
            out.append(score_observation(
                ids, f"{rating.public_id}/now",
                _pain_code("nprs-session-now", _("Pain now, session %(n)d", n=rated.number)),
                rating.pain_now, rating.created_at, patient_ref,
                status=_rating_status(rating)))
        parts = _psfs_components(rating.psfs or [], "activity", "score")
        if parts and rating.psfs_mean is not None:
            out.append(score_observation(
                ids, f"{rating.public_id}/psfs",
                _score_code("psfs", _("Patient-Specific Functional Scale, session %(n)d",
                                      n=rated.number)),
                rating.psfs_mean, rating.created_at, patient_ref,
                status=_rating_status(rating), components=parts))
    return out
