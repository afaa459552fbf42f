"""Per-patient exports (SPEC 5.5): the FHIR R4 Bundle, checked with the FHIR models of
fhir.resources (pinned in requirements-dev.txt) and against the HL7 R4 JSON schema
(tests/fhir_schema.py), and the printable summary. Both are audited, never cached, for staff
only."""
from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from portal.extensions import db
from portal.intake import amendments as intake_amendments
from portal.intake.types import StepInput
from portal.models import AuditEvent, Document, IntakeResponse, Patient
from portal.treatment import services
from tests.factories import make_document, make_patient, make_practitioner
from tests.fhir_schema import schema_errors
from tests.markup import parse
from tests.queries import queries_for
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import history, make_treatable

PAIN = "72514-3"
BASE = "http://localhost"
SCORES = f"{BASE}/fhir/CodeSystem/ims-scores"
UCUM_SCORE = {"unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"}


@pytest.fixture
def doctor(app):
    return make_practitioner(name="Dr. Jordan Lee")


@pytest.fixture
def staff_client(app, doctor):
    return signed_in(app, doctor)


@pytest.fixture
def treated(app, doctor):
    """Intake baseline 6 (pain now 6, worst 8), an accepted clearance and a pending imaging
    report, and four sessions rated 5, 4 and 3, the third one then cancelled. The first
    rating was stored before the average over 24 hours was asked (its score is the pain at
    the time of rating); the others answered it (4 and 3) with pain now apart (8 and 1)."""
    user = make_treatable(name="Margaret Côté", baseline=6)
    make_document(user, kind="imaging", name="mri.pdf")
    sessions = history(user, [5, 4, 7, 3], practitioner=doctor)
    old = sessions[0].rating
    old.score_question, old.pain_average = "pain_now", None
    sessions[1].rating.pain_now, sessions[3].rating.pain_now = 8, 1
    db.session.commit()
    services.cancel_session(sessions[2], doctor, "Entered on the wrong day.")
    db.session.expire_all()
    return user


def _export(client, user, status: int = 200):
    response = client.get(f"/clinic/patients/{user.patient.public_id}/fhir.json")
    assert response.status_code == status
    return response


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _bundle(client, user) -> dict:
    return json.loads(_export(client, user).get_data(as_text=True))


def _portal_code(resource: dict) -> str | None:
    """The code of an Observation in the portal's score codes."""
    return next((c["code"] for c in resource["code"]["coding"] if c["system"] == SCORES), None)


def _codings(node, path="") -> list[tuple[str, dict]]:
    """Every Coding in a FHIR JSON tree, with where it is."""
    found = []
    if isinstance(node, list):
        for i, n in enumerate(node):
            found += _codings(n, f"{path}/{i}")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("coding",) and isinstance(value, list):
                found += [(f"{path}/{key}/{i}", c) for i, c in enumerate(value)]
            elif key in ("valueCoding", "answerCoding"):
                found.append((f"{path}/{key}", value))
            else:
                found += _codings(value, f"{path}/{key}")
    return found


# --- FHIR -----------------------------------------------------------------------------------

def test_bundle_is_served_as_a_fhir_attachment_never_cached(staff_client, treated):
    response = _export(staff_client, treated)
    assert response.mimetype == "application/fhir+json"
    assert response.mimetype_params.get("fhirversion") == "4.0"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="patient-{treated.patient.public_id}-fhir.json"'
    assert response.headers["Cache-Control"] == "no-store"


def test_every_resource_validates_against_the_fhir_models(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection" and len(bundle.entry) == len(data["entry"])
    for entry in data["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        # The model keeps everything we sent (no field it did not know was dropped).
        assert json.loads(model.model_dump_json(exclude_none=True)) == resource
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    # The questionnaire and its two code systems; 3 intake pain scores, PEG and PSFS, the
    # follow-up scores of 3 ratings of sessions that count and the pain now of the 2 that
    # asked it apart; 2 documents.
    assert sorted(kinds) == sorted(
        ["Patient", "Questionnaire", "CodeSystem", "CodeSystem", "QuestionnaireResponse"]
        + ["Observation"] * 10 + ["DocumentReference"] * 2)


def test_every_bundle_validates_against_the_hl7_r4_json_schema(staff_client, treated):
    amended = make_treatable(name="Amended Intake")
    response = db.session.scalar(select(IntakeResponse).where(
        IntakeResponse.patient_id == amended.patient.id))
    result = intake_amendments.amend(
        amended.patient, amended, response, 2,
        StepInput(values={"nprs_worst": 9, "peg_activity": 2}), "I misread the question.")
    assert result.amendment is not None
    data = _bundle(staff_client, amended)
    assert {_portal_code(o): o["status"] for o in _resources(data, "Observation")
            if "derivedFrom" in o} == {"nprs-now": "final", "nprs-week-average": "final",
                                       "nprs-week-worst": "amended", "peg": "amended",
                                       "psfs": "final"}
    for user in (treated, make_patient(name="Newly Invited"), amended):
        assert schema_errors(_bundle(staff_client, user)) == []


def test_the_schema_refuses_a_made_up_status_that_the_models_accept(staff_client, treated):
    """The negative control: a wrong status is found by the schema, where the models pass
    it, so the check above can fail."""
    data = _bundle(staff_client, treated)
    qr = _resources(data, "QuestionnaireResponse")[0]
    qr["status"] = "bogus"
    get_fhir_model_class("QuestionnaireResponse").model_validate(qr)
    index = next(i for i, e in enumerate(data["entry"]) if e["resource"] is qr)
    errors = schema_errors(data)
    assert f"entry/{index}/resource/status: 'bogus' is not one of " \
           "['in-progress', 'completed', 'amended', 'entered-in-error', 'stopped']" in errors


def test_every_coding_has_a_system(staff_client, treated):
    data = _bundle(staff_client, treated)
    codings = _codings(data)
    assert len(codings) > 27
    assert [where for where, c in codings if not c.get("system")] == []
    # The portal's own codes are in the code systems the bundle carries.
    systems = {cs["url"]: {c["code"] for c in cs["concept"]}
               for cs in _resources(data, "CodeSystem")}
    for where, coding in codings:
        if coding["system"].startswith(BASE):
            assert coding["code"] in systems[coding["system"]], where


def test_the_response_answers_the_questionnaire_in_the_bundle(staff_client, treated):
    data = _bundle(staff_client, treated)
    questionnaire = _resources(data, "Questionnaire")[0]
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert qr["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"
    asked = {}

    def walk(items):
        for item in items:
            asked[item["linkId"]] = item
            walk(item.get("item", []))
    walk(questionnaire["item"])
    kinds = {"valueInteger": {"integer"}, "valueString": {"string", "text"},
             "valueDate": {"date"}, "valueCoding": {"choice"}}

    def check(items):
        for item in items:
            question = asked[item["linkId"]]
            assert item["text"] == question["text"]
            for answer in item.get("answer", []):
                (kind, value), = answer.items()
                assert question["type"] in kinds[kind], item["linkId"]
                if kind == "valueCoding":
                    assert {"valueCoding": value} in question["answerOption"]
            check(item.get("item", []))
    check(qr["item"])
    # A follow-up is asked on the answer it follows.
    assert asked["referral_other"]["enableWhen"] == [{
        "question": "referral", "operator": "=",
        "answerCoding": {"system": f"{BASE}/fhir/CodeSystem/ims_intake",
                         "code": "referral.other"}}]


def test_scores_are_ucum_quantities_with_distinct_codes(staff_client, treated):
    data = _bundle(staff_client, treated)
    observations = _resources(data, "Observation")
    for obs in observations:
        assert obs["category"][0]["coding"][0]["code"] == "survey"
        assert {k: v for k, v in obs["valueQuantity"].items() if k != "value"} == UCUM_SCORE
        assert "valueInteger" not in obs
        for part in obs.get("component", []):
            assert {k: v for k, v in part["valueQuantity"].items() if k != "value"} == UCUM_SCORE
    by_code = {}
    for obs in observations:
        by_code.setdefault(_portal_code(obs), []).append(obs)
    # The intake's three pain questions share LOINC 72514-3 and have a code each.
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-now"]] == [6]
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-week-average"]] == [6]
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-week-worst"]] == [8]
    # PEG-3: the mean of pain on average (6), enjoyment (6) and activity (7).
    peg, = by_code["peg"]
    assert peg["valueQuantity"]["value"] == 6.33
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"])
            for c in peg["component"]] == [("peg-pain", 6), ("peg-enjoyment", 6),
                                           ("peg-activity", 7)]
    # PSFS: the mean of the activities, each named by the patient.
    psfs, = by_code["psfs"]
    assert psfs["valueQuantity"]["value"] == 4
    assert [(c["code"]["text"], c["valueQuantity"]["value"]) for c in psfs["component"]] == \
        [("Lifting groceries", 3), ("Gardening", 5)]
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert peg["derivedFrom"] == psfs["derivedFrom"] == [{"reference": f"urn:uuid:{qr['id']}"}]
    # A session's follow-up score says which question it answered: the pain at the time of
    # rating (stored before) or the average over 24 hours; pain now has a code of its own.
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-session"]] == [5]
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-session-average-24h"]] == [4, 3]
    assert [o["valueQuantity"]["value"] for o in by_code["nprs-session-now"]] == [8, 1]


def test_a_session_rating_that_asked_the_psfs_again_exports_it(staff_client):
    user = make_treatable(name="Rerated Activities")
    history(user, [5, 4, 3])  # the third rating re-rates the activities: 7 and 7
    data = _bundle(staff_client, user)
    sessions = [o for o in _resources(data, "Observation")
                if _portal_code(o) == "psfs" and "derivedFrom" not in o]
    assert [o["valueQuantity"]["value"] for o in sessions] == [7]
    assert [c["valueQuantity"]["value"] for c in sessions[0]["component"]] == [7, 7]
    assert sessions[0]["code"]["text"] == "Patient-Specific Functional Scale, session 3"


def test_queries_per_export_do_not_grow_with_the_record(staff_client, doctor):
    short, long = make_treatable(name="Short Course"), make_treatable(name="Long Course")
    history(short, [5], practitioner=doctor)
    history(long, [6, 5, 4, 4, 3, 3, 2], practitioner=doctor)
    for user in (short, long):
        make_document(user, kind="imaging", name="mri.pdf")
    counts = [queries_for(db, staff_client,
                          f"/clinic/patients/{user.patient.public_id}/fhir.json")
              for user in (short, long)]
    assert counts[0] == counts[1]


def test_references_resolve_inside_the_bundle(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    full_urls = [e["fullUrl"] for e in data["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    assert all(u == f"urn:uuid:{e['resource']['id']}" for u, e in zip(full_urls, data["entry"]))
    patient_url = full_urls[0]
    about_the_patient = [e["resource"] for e in data["entry"][1:]
                         if e["resource"]["resourceType"] not in ("Questionnaire", "CodeSystem")]
    assert len(about_the_patient) == 13
    for resource in about_the_patient:
        assert resource["subject"] == {"reference": patient_url}


def test_pain_observations_carry_loinc_72514_3(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    observations = [o for o in _resources(data, "Observation")
                    if _portal_code(o) not in ("peg", "psfs")]
    for obs in observations:
        assert obs["code"]["coding"][0] == {
            "system": "http://loinc.org", "code": PAIN,
            "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}
        assert obs["status"] in ("final", "amended")
        value = obs["valueQuantity"]["value"]
        assert isinstance(value, int) and 0 <= value <= 10
        when = obs["effectiveDateTime"]
        assert when.endswith("Z") and datetime.fromisoformat(when.replace("Z", "+00:00"))
    intake = [o for o in observations if "derivedFrom" in o]
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert {o["derivedFrom"][0]["reference"] for o in intake} == {f"urn:uuid:{qr['id']}"}
    # Intake: now 6, average (the baseline) 6, worst 8.
    assert sorted(o["valueQuantity"]["value"] for o in intake) == [6, 6, 8]
    # Sessions 1, 2 and 3 (the cancelled one, rated 7, is left out): each follow-up score,
    # and the pain now asked apart from it.
    sessions = [o for o in observations if "derivedFrom" not in o]
    assert [(o["valueQuantity"]["value"], o["code"]["text"]) for o in sessions] == [
        (5, "Pain after session 1"),
        (4, "Average pain over the past 24 hours, session 2"), (8, "Pain now, session 2"),
        (3, "Average pain over the past 24 hours, session 3"), (1, "Pain now, session 3")]


def test_questionnaire_response_is_the_submitted_intake(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert qr["questionnaire"] == "http://localhost/fhir/Questionnaire/ims_intake|3"
    assert qr["status"] == "completed"
    # Its identifier is in a system of its own, not the patients'.
    patient = _resources(data, "Patient")[0]
    assert qr["identifier"]["system"] == f"{BASE}/fhir/sid/intake-response"
    assert qr["identifier"]["system"] != patient["identifier"][0]["system"]
    items = {}
    for item in qr["item"]:
        items.setdefault(item["linkId"], []).append(item)
    assert items["nprs_average"][0]["answer"] == [{"valueInteger": 6}]
    assert items["dob"][0]["answer"] == [{"valueDate": "1960-05-17"}]
    assert items["sex"][0]["answer"][0]["valueCoding"] == {
        "system": f"{BASE}/fhir/CodeSystem/ims_intake", "code": "sex.female",
        "display": "Female"}
    # Each PSFS activity is one repetition of the question's group.
    activities = [[a["answer"][0] for a in row["item"]] for row in items["psfs"]]
    assert activities == [[{"valueString": "Lifting groceries"}, {"valueInteger": 3}],
                          [{"valueString": "Gardening"}, {"valueInteger": 5}]]
    regions = {i["linkId"]: i["answer"][0]["valueInteger"] for i in items["pain_map"][0]["item"]}
    assert regions == {"pain_map.front.shoulder.right": 7, "pain_map.back.neck.right": 5}
    patient = _resources(data, "Patient")[0]
    assert patient["birthDate"] == "1960-05-17" and patient["gender"] == "female"
    assert {"system": "phone", "value": "604-555-0123"} in patient["telecom"]
    assert patient["identifier"][0]["value"] == treated.patient.public_id


def test_document_references_are_metadata_only(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    docs = {d.public_id: d for d in db.session.scalars(
        select(Document).where(Document.patient_id == treated.patient.id))}
    refs = _resources(data, "DocumentReference")
    assert len(refs) == len(docs) == 2
    for ref in refs:
        attachment = ref["content"][0]["attachment"]
        assert "data" not in attachment
        public_id = attachment["url"].split("/documents/")[1].split("/")[0]
        doc = docs[public_id]
        assert attachment["url"] == f"http://localhost/documents/{public_id}/download"
        assert attachment["contentType"] == doc.content_type == "application/pdf"
        assert attachment["size"] == doc.size
        ni = ref["identifier"][0]["value"]
        assert ni.startswith("ni:///sha-256;")
        digest = ni.split(";", 1)[1]
        assert base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex() == doc.sha256
        assert ref["status"] == "current"
    descriptions = sorted(r["description"] for r in refs)
    assert descriptions == ["Imaging report (waiting for review)",
                            "Physician's clearance (accepted)"]


def test_export_is_audited_and_ids_are_stable(staff_client, treated, doctor):
    first = json.loads(_export(staff_client, treated).get_data(as_text=True))
    second = json.loads(_export(staff_client, treated).get_data(as_text=True))
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    events = list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "patient.exported")))
    assert len(events) == 2
    assert all(e.patient_id == treated.patient.id and e.actor_id == doctor.id for e in events)
    assert '"format": "fhir-r4"' in events[0].detail


def test_a_patient_without_intake_exports_their_account_only(staff_client):
    user = make_patient(name="Newly Invited")
    data = json.loads(_export(staff_client, user).get_data(as_text=True))
    Bundle.model_validate(data)
    assert [e["resource"]["resourceType"] for e in data["entry"]] == ["Patient"]


def test_unknown_patient_is_404(staff_client):
    assert staff_client.get("/clinic/patients/no-such-id/fhir.json").status_code == 404
    assert staff_client.get("/clinic/patients/no-such-id/summary").status_code == 404


def test_patients_get_404_even_for_their_own_record(app, treated):
    for user in (treated, make_patient()):
        client = signed_in(app, user)
        for path in ("fhir.json", "summary"):
            response = client.get(f"/clinic/patients/{treated.patient.public_id}/{path}")
            assert response.status_code == 404
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action.in_(("patient.exported", "summary.viewed")))) is None


# --- the printable summary --------------------------------------------------------------------

def test_summary_shows_the_record_on_one_page(staff_client, treated, doctor):
    response = staff_client.get(f"/clinic/patients/{treated.patient.public_id}/summary")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    doc = parse(html)
    assert "Margaret Côté" in doc.by_id("summary-title").text
    # Baseline 6, latest 3: 3 points and 50% down.
    assert doc.by_id("summary-change").text.strip() == "-3 (-50%)"
    assert "Meaningful improvement" in doc.by_id("summary-status").text
    assert "Cleared" in doc.by_id("summary-clearance").text
    # Both parts of informed consent (SPEC 4.1): the discussion, who had it and when.
    discussed = " ".join(doc.by_id("summary-consent-discussion").text.split())
    assert discussed.startswith("Discussed on ") and " by " in discussed
    rows = [r for r in doc.find_all("tr") if r.children and r.children[0].tag == "th"
            and r.children[0].attrs.get("scope") == "row"]
    labels = [r.children[0].text.strip() for r in rows]
    assert [x for x in labels if x in ("1", "2", "3", "Cancelled")] == ["1", "2", "Cancelled", "3"]
    # No red flag and no precaution: only the note that she is over 50 (born 1960).
    flags = [li.text for li in doc.find_all("li") if "flag" in (li.attrs.get("class") or "")]
    assert [" ".join(f.split()) for f in flags] == [
        "Note Over 50 years old (a tumour risk factor: weigh it with the other answers)"]
    assert 'media="print"' in html and "data-print" in html
    button = next(b for b in doc.find_all("button") if "data-print" in b.attrs)
    assert "hidden" in button.attrs  # shown by the script only
    assert "style=" not in html.split("<main", 1)[1]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "summary.viewed"))
    assert event is not None and event.patient_id == treated.patient.id
    assert event.actor_id == doctor.id


def test_summary_of_a_patient_with_nothing_yet(staff_client):
    user = make_patient(name="Newly Invited")
    response = staff_client.get(f"/clinic/patients/{user.patient.public_id}/summary")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The intake questionnaire has not been sent yet." in html
    assert "No session recorded." in html
    assert "Not recorded" in parse(html).by_id("summary-consent-discussion").text


def test_summary_says_when_consent_was_withdrawn(staff_client, treated):
    from portal.intake import consent as consents
    patient = db.session.get(Patient, treated.patient.id)
    row = consents.signature(patient, consents.current_consent())
    assert consents.withdraw(patient, row, None)
    html = staff_client.get(f"/clinic/patients/{treated.patient.public_id}/summary"
                            ).get_data(as_text=True)
    assert "Withdrawn on " in html and "Current consent not signed" not in html
