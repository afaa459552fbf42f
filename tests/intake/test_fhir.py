"""The intake's FHIR definitions at their canonical URLs (SPEC 5.5): the Questionnaire a
response cites and the code systems of the portal's codes, public, the same resources the
patient exports carry, valid for the FHIR models and the HL7 R4 JSON schema."""
from __future__ import annotations

import json

from fhir.resources.R4B import get_fhir_model_class

from portal.intake.definitions import registry
from tests.fhir_schema import schema_errors

BASE = "http://localhost"


def _get(client, path: str, status: int = 200, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == status, path
    return response


def _resource(client, path: str, **kwargs) -> dict:
    response = _get(client, path, **kwargs)
    assert response.mimetype == "application/fhir+json"
    assert response.mimetype_params.get("fhirversion") == "4.0"
    return json.loads(response.get_data(as_text=True))


def _valid(resource: dict) -> None:
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert json.loads(model.model_dump_json(exclude_none=True)) == resource
    assert schema_errors(resource) == []


def test_the_questionnaire_is_served_at_its_canonical_url(client, app):
    definition = registry().questionnaire("ims_intake")
    questionnaire = _resource(client, "/fhir/Questionnaire/ims_intake")
    _valid(questionnaire)
    assert questionnaire["url"] == f"{BASE}/fhir/Questionnaire/ims_intake"
    assert questionnaire["version"] == str(definition.version)
    assert questionnaire["status"] == "active"
    # One item per question of the definition, in its order.
    assert [i["linkId"] for i in questionnaire["item"]] == list(definition.questions)
    same = _resource(client, f"/fhir/Questionnaire/ims_intake?version={definition.version}")
    assert same == questionnaire


def test_the_three_pain_questions_have_codes_of_their_own(client, app):
    questionnaire = _resource(client, "/fhir/Questionnaire/ims_intake")
    items = {i["linkId"]: i for i in questionnaire["item"]}
    codes = {}
    for qid in ("nprs_now", "nprs_average", "nprs_worst"):
        coding = items[qid]["code"]
        assert coding[0]["system"] == "http://loinc.org" and coding[0]["code"] == "72514-3"
        codes[qid] = coding[1]["code"]
    assert codes == {"nprs_now": "nprs-now", "nprs_average": "nprs-week-average",
                     "nprs_worst": "nprs-week-worst"}


def test_the_code_systems_are_served_with_every_code_used(client, app):
    questionnaire = _resource(client, "/fhir/Questionnaire/ims_intake")
    answers = _resource(client, "/fhir/CodeSystem/ims_intake")
    scores = _resource(client, "/fhir/CodeSystem/ims-scores")
    for resource in (answers, scores):
        _valid(resource)
        assert resource["content"] == "complete"
    known = {cs["url"]: {c["code"] for c in cs["concept"]} for cs in (answers, scores)}
    assert set(known) == {f"{BASE}/fhir/CodeSystem/ims_intake",
                          f"{BASE}/fhir/CodeSystem/ims-scores"}
    text = json.dumps(questionnaire)
    used = 0
    for item in questionnaire["item"]:
        for option in item.get("answerOption", []):
            coding = option["valueCoding"]
            assert coding["code"] in known[coding["system"]]
            used += 1
        for coding in item.get("code", []):
            assert coding["system"] == "http://loinc.org" or coding["code"] in known[
                coding["system"]]
    assert used == len(known[f"{BASE}/fhir/CodeSystem/ims_intake"])
    assert '"system"' in text
    sex = next(c for c in answers["concept"] if c["code"] == "sex.female")
    assert sex["designation"] == [{"language": "en", "value": "Female"},
                                  {"language": "fr-CA", "value": "Féminin"}]


def test_they_follow_the_readers_language(client, app):
    questionnaire = _resource(client, "/fhir/Questionnaire/ims_intake",
                              headers={"Accept-Language": "fr-CA"})
    assert questionnaire["language"] == "fr-CA"
    assert questionnaire["title"] == "Questionnaire d'accueil"
    scores = _resource(client, "/fhir/CodeSystem/ims-scores",
                       headers={"Accept-Language": "fr-CA"})
    assert scores["language"] == "fr-CA"
    assert next(c["display"] for c in scores["concept"] if c["code"] == "nprs-now") \
        == "Douleur en ce moment (0-10)"


def test_what_is_not_published_is_404(client, app):
    for path in ("/fhir/Questionnaire/no_such", "/fhir/Questionnaire/ims_intake?version=99",
                 "/fhir/Questionnaire/ims_intake?version=x1",
                 "/fhir/Questionnaire/ims_intake?version=99999999999999999999",
                 "/fhir/CodeSystem/no_such", "/fhir/CodeSystem/ims-scores?version=2",
                 "/fhir/CodeSystem/ims_consent"):
        _get(client, path, 404)
