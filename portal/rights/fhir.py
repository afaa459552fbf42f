"""A patient's record as a FHIR R4 Bundle (SPEC 5.5, 11.1), built as plain JSON-ready dicts.

FHIR R4 is version 4.0.1 (https://hl7.org/fhir/R4/). The bundle is a ``collection``
(https://hl7.org/fhir/R4/bundle.html): a set of resources kept together, not a transaction
for a server to run. Each entry's ``fullUrl`` is a ``urn:uuid:`` and the resources refer to
each other by it. The UUIDs are derived from the portal's public ids (UUID version 5 in a
namespace made from the clinic's address), so a second export of the same record gives the
same ids and a receiving system can tell it is the same patient, response or observation.

What is in it:

* ``Patient``: name, e-mail, and from the intake the date of birth, sex (as administrative
  gender), phone and address, with the portal's public id as identifier.
* ``Questionnaire``: the version of the intake the patient answered, as served at its
  canonical URL, and the ``CodeSystem``s of the portal's own codes (its options' codes, and
  the score codes); see portal.intake.fhir. Every coding in the bundle has a ``system``.
* ``QuestionnaireResponse``: the submitted intake with its amendments applied, pointing at
  its questionnaire by canonical URL and version (``url|version``), one item per answered
  question in the questionnaire's order; its identifier in a system of its own.
* ``Observation`` (category ``survey``), each score as a ``valueQuantity`` in UCUM
  ``{score}`` (CLINICAL.md, "Codes for export"):
  - pain (NPRS, IMMPACT: Dworkin et al., J Pain 2008;9:105-121), coded with LOINC 72514-3
    "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
    (https://loinc.org/72514-3) and the portal's code of the question, which tells the
    intake's pain now, average and worst over the past week and a session's rating apart:
    the intake's three, and for every rating of a session that was not cancelled (a
    cancelled session's rating no longer counts anywhere in the portal) its follow-up score,
    coded by the question it answered ("nprs-session-average-24h", the average pain over the
    past 24 hours; "nprs-session", the pain at the time of rating, for ratings stored before
    that question), and its pain now ("nprs-session-now") when asked apart;
  - PEG-3, the mean of its three items, which are its components (Krebs et al., J Gen
    Intern Med 2009;24(6):733-738);
  - PSFS, the mean of the activity scores, each activity a component named by the patient
    (Stratford et al., Physiotherapy Canada 1995;47:258-263): the intake's, and the one of
    every session rating that asked it again.
* ``DocumentReference``: one per document, metadata only (never the file): type, status,
  date, content type, size, and the link to download it (which asks the reader to sign in).

The file's SHA-256 is given as an identifier in the ``ni:`` form of RFC 6920 ("Naming
Things with Hashes", ``ni:///sha-256;<base64url>``): R4 defines ``Attachment.hash`` as a
SHA-1, which the portal does not keep, and computing one would mean decrypting the file.
"""
from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Any

from flask_babel import gettext as _

from portal import clock
from portal.documents import services as documents
from portal.intake import fhir as definitions
from portal.intake import services as intake
from portal.intake.answers import visible
from portal.intake.definitions import Question, Questionnaire
from portal.links import absolute_url
from portal.models import Document, IntakeResponse, Patient
from portal.rights.fhir_scores import (
    PAIN_SEVERITY,
    SURVEY,
    Ids,
    instant,
    intake_observations,
    session_observations,
)

__all__ = ["FHIR_VERSION", "MEDIA_TYPE", "PAIN_SEVERITY", "SURVEY", "bundle", "instant"]

FHIR_VERSION = definitions.FHIR_VERSION
# The media type of FHIR JSON, with the version it follows (https://hl7.org/fhir/R4/http.html
# "mime-type": the fhirVersion parameter names the major.minor release).
MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"

# RFC 3986: the identifier's value is itself a URI (here an RFC 6920 ni: name).
URI_SYSTEM = "urn:ietf:rfc:3986"
# The intake's answer to "sex" as FHIR administrative gender
# (https://hl7.org/fhir/R4/valueset-administrative-gender.html).
GENDERS = {"female": "female", "male": "male", "another": "other", "prefer_not": "unknown"}


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _answered(question: Question, answers: dict[str, Any]) -> Any:
    value = answers.get(question.id)
    return None if value in (None, "", [], {}) else value


def _by_autocomplete(definition: Questionnaire, token: str) -> Question | None:
    """The question that asks for ``token`` (its HTML autocomplete name), whatever its id in
    this version of the questionnaire."""
    return next((q for q in definition.questions.values() if q.autocomplete == token), None)


# --- Patient --------------------------------------------------------------------------------

def patient_resource(ids: Ids, patient: Patient, definition: Questionnaire | None,
                     answers: dict[str, Any]) -> dict[str, Any]:
    user = patient.user
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": ids("Patient", patient.public_id),
        "identifier": [{"system": absolute_url("clinic.patients"), "value": patient.public_id}],
        "active": user.active,
        "name": [{"text": user.name}],
        "telecom": [{"system": "email", "value": user.email}],
    }
    if definition is None:
        return resource
    phone = _by_autocomplete(definition, "tel")
    if phone is not None and _answered(phone, answers):
        resource["telecom"].append({"system": "phone", "value": str(answers[phone.id])})
    sex = definition.questions.get("sex")
    if sex is not None and answers.get("sex") in GENDERS:
        resource["gender"] = GENDERS[answers["sex"]]
    birth = _by_autocomplete(definition, "bday")
    if birth is not None and _iso_date(answers.get(birth.id)):
        resource["birthDate"] = answers[birth.id]
    address = _by_autocomplete(definition, "street-address")
    if address is not None and _answered(address, answers):
        resource["address"] = [{"text": str(answers[address.id])}]
    return resource


def _iso_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


# --- QuestionnaireResponse ------------------------------------------------------------------

def questionnaire_canonical(definition: Questionnaire) -> str:
    """The questionnaire's canonical URL with its version: ``url|version``
    (https://hl7.org/fhir/R4/references.html#canonical)."""
    return f"{definitions.questionnaire_url(definition)}|{definition.version}"


def questionnaire_response(ids: Ids, response: IntakeResponse, definition: Questionnaire,
                           answers: dict[str, Any], patient_ref: dict[str, str],
                           locale: str) -> dict[str, Any]:
    # Each answered question's item(s), as its type writes them (portal.intake.types,
    # fhir_items): answers with valueString, valueInteger, valueDecimal, valueDate or
    # valueCoding; a body map is a group with one item per marked region; each PSFS activity
    # a repetition of the question's group (same linkId), with its columns inside.
    assert response.submitted_at is not None  # a submitted response (check constraint)
    items: list[dict[str, Any]] = []
    for step in definition.steps:
        for question in step.questions:
            value = _answered(question, answers)
            if value is not None and visible(definition, question, answers):
                items.extend(question.fhir_items(value, locale))
    return {
        "resourceType": "QuestionnaireResponse",
        "id": ids("QuestionnaireResponse", response.public_id),
        "identifier": {"system": definitions.identifier_system("intake-response"),
                       "value": response.public_id},
        "questionnaire": questionnaire_canonical(definition),
        # Corrected after it was sent (SPEC 2.6): "amended".
        "status": "amended" if response.amendments else "completed",
        "subject": patient_ref, "author": patient_ref, "source": patient_ref,
        "authored": instant(response.submitted_at),
        "item": definitions.with_system(items, definitions.answers_url(definition)),
    }


# --- DocumentReference ----------------------------------------------------------------------

def _ni(sha256_hex: str) -> str:
    """RFC 6920 name of a SHA-256 digest: ni:///sha-256;<base64url without padding>."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"


def _document_labels() -> dict[str, str]:
    return {"clearance": _("Physician's clearance"), "imaging": _("Imaging report"),
            "referral": _("Referral"), "other": _("Other document")}


def _review_text(doc: Document) -> str:
    if doc.status == "accepted":
        if doc.valid_until:
            return _("accepted, valid until %(day)s", day=doc.valid_until.isoformat())
        return _("accepted")
    if doc.status == "rejected":
        return _("rejected")
    return _("waiting for review")


def document_reference(ids: Ids, doc: Document,
                       patient_ref: dict[str, str]) -> dict[str, Any]:
    kind = _document_labels().get(doc.kind, doc.kind)
    assert doc.sha256 is not None  # staff see checked documents only, which have it
    return {
        "resourceType": "DocumentReference", "id": ids("DocumentReference", doc.public_id),
        "identifier": [{"system": URI_SYSTEM, "value": _ni(doc.sha256)}],
        # A clearance replaced by a newer upload is superseded; every other one current.
        "status": "superseded" if doc.replaced_by else "current",
        "type": {"text": kind},
        "subject": patient_ref,
        "date": instant(doc.created_at),
        "description": f"{kind} ({_review_text(doc)})",
        "content": [{"attachment": {
            "contentType": doc.content_type,
            "url": absolute_url("documents.download", public_id=doc.public_id),
            "size": doc.size,
            "title": doc.original_name,
            "creation": instant(doc.created_at),
        }}],
    }


# --- the bundle -----------------------------------------------------------------------------

def bundle(patient: Patient, locale: str) -> dict[str, Any]:
    """The patient's record as a FHIR R4 collection Bundle."""
    ids = Ids()
    response = intake.submitted_response(patient)
    definition = intake.definition_for(response) if response is not None else None
    answers = intake.effective_answers(response) if response is not None else {}
    person = patient_resource(ids, patient, definition, answers)
    patient_ref = _ref(person)
    resources = [person]
    observations = []
    if response is not None and definition is not None:
        qr = questionnaire_response(ids, response, definition, answers, patient_ref, locale)
        resources += [definitions.questionnaire(definition, locale),
                      definitions.answers_code_system(definition, locale), qr]
        observations += intake_observations(ids, response, definition, answers, patient_ref,
                                            _ref(qr))
    observations += session_observations(ids, patient, patient_ref)
    if observations:
        resources.append(definitions.scores_code_system(locale))
    resources.extend(observations)
    resources.extend(document_reference(ids, doc, patient_ref)
                     for doc in documents.patient_documents(patient, for_staff=True))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(clock.now())},
        "type": "collection",
        "timestamp": instant(clock.now()),
        "entry": [_entry(r) for r in resources],
    }
