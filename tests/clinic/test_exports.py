"""Per-patient exports (SPEC 5.5): the FHIR R4 Bundle, checked with the FHIR models of
fhir.resources (pinned in requirements-dev.txt), and the printable summary. Both are audited,
never cached, for staff only."""
from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Document
from portal.treatment import services
from tests.factories import make_document, make_patient, make_practitioner
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import history, make_treatable

PAIN = "72514-3"


@pytest.fixture
def doctor(app):
    return make_practitioner(name="Dr. Jordan Lee")


@pytest.fixture
def staff_client(app, doctor):
    return signed_in(app, doctor)


@pytest.fixture
def treated(app, doctor):
    """Intake baseline 6 (pain now 6, worst 8), an accepted clearance and a pending imaging
    report, and four sessions rated 5, 4 and 3, the third one then cancelled."""
    user = make_treatable(name="Margaret Côté", baseline=6)
    make_document(user, kind="imaging", name="mri.pdf")
    sessions = history(user, [5, 4, 7, 3], practitioner=doctor)
    services.cancel_session(sessions[2], doctor, "Entered on the wrong day.")
    db.session.expire_all()
    return user


def _export(client, user, status: int = 200):
    response = client.get(f"/clinic/patients/{user.patient.public_id}/fhir.json")
    assert response.status_code == status
    return response


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


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
    # 3 intake pain scores + 3 ratings of sessions that count; 2 documents.
    assert sorted(kinds) == sorted(["Patient", "QuestionnaireResponse"] + ["Observation"] * 6
                                   + ["DocumentReference"] * 2)


def test_references_resolve_inside_the_bundle(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    full_urls = [e["fullUrl"] for e in data["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    assert all(u == f"urn:uuid:{e['resource']['id']}" for u, e in zip(full_urls, data["entry"]))
    patient_url = full_urls[0]
    for entry in data["entry"][1:]:
        assert entry["resource"]["subject"] == {"reference": patient_url}


def test_pain_observations_carry_loinc_72514_3(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    observations = _resources(data, "Observation")
    for obs in observations:
        assert obs["code"]["coding"] == [{
            "system": "http://loinc.org", "code": PAIN,
            "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}]
        assert obs["status"] in ("final", "amended")
        assert isinstance(obs["valueInteger"], int) and 0 <= obs["valueInteger"] <= 10
        when = obs["effectiveDateTime"]
        assert when.endswith("Z") and datetime.fromisoformat(when.replace("Z", "+00:00"))
    intake = [o for o in observations if "derivedFrom" in o]
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert {o["derivedFrom"][0]["reference"] for o in intake} == {f"urn:uuid:{qr['id']}"}
    # Intake: now 6, average (the baseline) 6, worst 8.
    assert sorted(o["valueInteger"] for o in intake) == [6, 6, 8]
    # Sessions 1, 2 and 3 (the cancelled one, rated 7, is left out).
    sessions = [o for o in observations if "derivedFrom" not in o]
    assert [o["valueInteger"] for o in sessions] == [5, 4, 3]
    assert [o["code"]["text"] for o in sessions] == [f"Pain after session {n}" for n in (1, 2, 3)]


def test_questionnaire_response_is_the_submitted_intake(staff_client, treated):
    data = json.loads(_export(staff_client, treated).get_data(as_text=True))
    qr = _resources(data, "QuestionnaireResponse")[0]
    assert qr["questionnaire"] == "http://localhost/fhir/Questionnaire/ims_intake|1"
    assert qr["status"] == "completed"
    items = {}
    for item in qr["item"]:
        items.setdefault(item["linkId"], []).append(item)
    assert items["nprs_average"][0]["answer"] == [{"valueInteger": 6}]
    assert items["dob"][0]["answer"] == [{"valueDate": "1960-05-17"}]
    assert items["sex"][0]["answer"][0]["valueCoding"]["code"] == "female"
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
    rows = [r for r in doc.find_all("tr") if r.children and r.children[0].tag == "th"
            and r.children[0].attrs.get("scope") == "row"]
    labels = [r.children[0].text.strip() for r in rows]
    assert [x for x in labels if x in ("1", "2", "3", "Cancelled")] == ["1", "2", "Cancelled", "3"]
    assert "No red flags and no precautions." in html
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
