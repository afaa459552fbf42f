"""Questionnaires are versioned data (SPEC 2.1, 2.2): loaded and checked at start-up, a
broken file stops the app and names the question, and a new version leaves the responses
to the old one as they were."""
from __future__ import annotations

import copy
import shutil
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from portal.intake import definitions, services
from portal.intake.definitions import (
    FOLDER,
    QUESTION_TYPES,
    DefinitionError,
    Registry,
    load_folder,
    parse_questionnaire,
)
from portal.models import IntakeResponse
from tests.conftest import Auth
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import make_intake, page_state

INTAKE = FOLDER / "ims_intake_v3.toml"  # the newest published version


def raw() -> dict:
    return tomllib.loads(INTAKE.read_text(encoding="utf-8"))


def registry_with_consent() -> Registry:
    reg = Registry()
    consent = load_folder(FOLDER).consent("ims_consent")
    reg.consents[(consent.key, consent.version)] = consent
    return reg


def test_the_shipped_definitions_load():
    reg = load_folder(FOLDER)
    intake = reg.questionnaire("ims_intake")
    assert (intake.key, intake.version, intake.step_count) == ("ims_intake", 3, 7)
    assert [s.id for s in intake.steps] == ["about", "pain", "function", "history", "safety",
                                            "consent", "review"]
    # Every question type of SPEC 2.2 is used.
    assert {q.type for q in intake.questions.values()} == set(QUESTION_TYPES)
    # Both languages everywhere.
    for question in intake.questions.values():
        assert question.label["en"] and question.label["fr_CA"], question.id
    assert reg.consent("ims_consent").version == 3


def _step(data: dict, step_id: str) -> dict:
    return next(s for s in data["steps"] if s["id"] == step_id)


def _question(data: dict, qid: str) -> dict:
    return next(q for s in data["steps"] for q in s.get("questions", []) if q["id"] == qid)


def _mutate(change):
    data = raw()
    change(data)
    return data


BROKEN = [
    ("question 'sex': type 'dropdown'",
     lambda d: _question(d, "sex").update(type="dropdown")),
    ("question 'dob': label has no text for fr_CA",
     lambda d: _question(d, "dob")["label"].pop("fr_CA")),
    ("question 'phone': the id is used twice",
     lambda d: _step(d, "about")["questions"].append(copy.deepcopy(_question(d, "phone")))),
    ("question 'phone': unknown setting(s) ['requird']",
     lambda d: _question(d, "phone").update(requird=True)),
    ("question 'referral_other': condition refers to 'nope'",
     lambda d: _question(d, "referral_other")["show_if"].update(question="nope")),
    ("question 'referral_other': condition values ['maybe']",
     lambda d: _question(d, "referral_other")["show_if"].update(equals="maybe")),
    ("question 'sex': option values must be unique",
     lambda d: _question(d, "sex")["options"].append({"value": "male", "label": {
         "en": "M", "fr_CA": "M"}})),
    ("question 'sex': a choice question needs at least two options",
     lambda d: _question(d, "sex").update(options=_question(d, "sex")["options"][:1])),
    ("question 'main_complaint': max_length must be a whole number",
     lambda d: _question(d, "main_complaint").update(max_length=0)),
    ("question 'dob': date bound 'yesterday'",
     lambda d: _question(d, "dob").update(max="yesterday")),
    ("question 'consent_signature': consent 'other_consent'",
     lambda d: _question(d, "consent_signature").update(consent="other_consent")),
    ("question 'psfs': a rows question needs columns",
     lambda d: _question(d, "psfs").update(columns=[])),
    ("step 7: the review step comes last",
     lambda d: d["steps"].append(copy.deepcopy(_step(d, "about")) | {"id": "extra"})),
    ("flag 'anticoagulant': detail 'pc_drug'",
     lambda d: next(f for f in d["flags"] if f["code"] == "anticoagulant").update(
         details=["pc_drug"])),
    ("flag 'major_trauma_recent': a red flag needs advice",
     lambda d: next(f for f in d["flags"] if f["code"] == "major_trauma_recent").pop("advice")),
    ("flag 'age_over_50': precautions and notes carry no urgent-care advice",
     lambda d: next(f for f in d["flags"] if f["code"] == "age_over_50").update(
         advice="soon")),
    ("flag 'age_over_50': older_than needs a date question",
     lambda d: next(f for f in d["flags"] if f["code"] == "age_over_50").update(
         when={"question": "pain_days", "older_than": 50})),
    ("flag 'age_over_50': older_than is a whole number of years",
     lambda d: next(f for f in d["flags"] if f["code"] == "age_over_50").update(
         when={"question": "dob", "older_than": "fifty"})),
    ("question 'referral_other' condition: unknown setting(s) ['older_than']",
     lambda d: _question(d, "referral_other").update(
         show_if={"question": "dob", "older_than": 50})),
    ("scoring 'peg': 'peg_fun' is not a question",
     lambda d: d["scoring"].update(peg=["nprs_average", "peg_fun", "peg_activity"])),
    ("scoring 'nprs_now': 'phone' must be a scale question",
     lambda d: d["scoring"].update(nprs_now="phone")),
]


@pytest.mark.parametrize("message,change", BROKEN, ids=[b[0].split(":")[0] for b in BROKEN])
def test_a_broken_definition_fails_loudly_naming_the_question(message, change):
    with pytest.raises(DefinitionError) as error:
        parse_questionnaire(_mutate(change), "ims_intake_v1.toml", registry_with_consent())
    assert str(error.value).startswith("ims_intake_v1.toml: ")
    assert message in str(error.value)


def _folder_with(tmp_path: Path, name: str, content: str) -> Path:
    folder = tmp_path / "questionnaires"
    folder.mkdir(exist_ok=True)
    for path in FOLDER.glob("*.toml"):
        shutil.copy(path, folder / path.name)
    (folder / name).write_text(content, encoding="utf-8")
    return folder


def _config(**extra) -> dict:
    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(extra)
    return cfg


def test_the_app_refuses_to_start_with_a_broken_definition(tmp_path):
    text = INTAKE.read_text(encoding="utf-8").replace('type = "scale"', 'type = "slider"', 1)
    folder = _folder_with(tmp_path, "ims_intake_v3.toml", text)
    with pytest.raises(DefinitionError, match="question 'nprs_now': type 'slider'"):
        create_app(_config(INTAKE_DEFINITIONS_DIR=str(folder)))


def test_file_name_key_and_version_must_agree(tmp_path):
    text = INTAKE.read_text(encoding="utf-8")
    folder = _folder_with(tmp_path, "ims_intake_v4.toml", text)  # says version = 3 inside
    with pytest.raises(DefinitionError, match=r"ims_intake_v4\.toml: key and version"):
        load_folder(folder)
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "ims_intake_v1.toml").write_text("key = [", encoding="utf-8")
    with pytest.raises(DefinitionError, match="not valid TOML"):
        load_folder(broken)


# --- publishing the next version ----------------------------------------------------------

def version_4() -> str:
    """Version 3 with a question reworded, one added and one removed."""
    text = INTAKE.read_text(encoding="utf-8")
    text = text.replace("\nversion = 3\n", "\nversion = 4\n", 1)
    text = text.replace('label = { en = "Phone number", fr_CA = "Numéro de téléphone" }',
                        'label = { en = "Mobile phone number", fr_CA = "Cellulaire" }')
    text = text.replace('''[[steps.questions]]
id = "physician_clinic"''', '''[[steps.questions]]
id = "preferred_name"
type = "short_text"
label = { en = "What should we call you?", fr_CA = "Comment voulez-vous qu'on vous appelle?" }

[[steps.questions]]
id = "physician_clinic_gone"''')
    return text


def test_publishing_version_4_leaves_version_3_responses_unchanged(app, client, tmp_path):
    veteran = make_patient(name="Vera Veteran")
    submitted = make_intake(veteran)
    halfway = make_patient(name="Hal Halfway")
    halfway_response = make_intake(halfway, submit=False, phone="250-555-0101")
    before = {r.id: (r.definition_version, dict(r.answers), r.scores, r.flags)
              for r in db.session.scalars(select(IntakeResponse))}

    # A deploy with ims_intake_v4.toml next to v3.
    folder = _folder_with(tmp_path, "ims_intake_v4.toml", version_4())
    app.extensions["intake_definitions"] = load_folder(folder)
    assert services.current_definition().version == 4

    db.session.expire_all()
    after = {r.id: (r.definition_version, dict(r.answers), r.scores, r.flags)
             for r in db.session.scalars(select(IntakeResponse))}
    assert after == before

    # The old responses are still read with their own version...
    Auth(client).login(veteran)
    summary = client.get("/me/intake/summary").get_data(as_text=True)
    assert "Phone number" in summary and "Mobile phone number" not in summary
    assert "604-555-0123" in summary
    client.post("/auth/logout")
    Auth(client).login(halfway)
    page = client.get("/me/intake/1").get_data(as_text=True)
    assert "Phone number" in page and "What should we call you?" not in page
    assert 'value="250-555-0101"' in page
    client.post("/auth/logout")
    doctor = make_practitioner()
    Auth(client).login(doctor)
    staff = client.get(f"/clinic/patients/{veteran.patient.public_id}/intake")
    assert staff.status_code == 200 and "Phone number" in staff.get_data(as_text=True)
    client.post("/auth/logout")

    # ...and a new patient answers version 4.
    newcomer = make_patient(name="Nina Newcomer")
    Auth(client).login(newcomer)
    page = client.get("/me/intake/1").get_data(as_text=True)
    assert "What should we call you?" in page and "Mobile phone number" in page
    state = page_state(client, 1)
    client.post("/me/intake/1", data={**state, "preferred_name": "Nina", "action": "save"})
    response = services.response_for(newcomer.patient)
    assert response.definition_version == 4 and response.answers == {"preferred_name": "Nina"}
    assert db.session.get(IntakeResponse, halfway_response.id).definition_version == 3
    assert db.session.get(IntakeResponse, submitted.id).definition_version == 3


def test_registry_is_loaded_at_start_up(app):
    assert isinstance(app.extensions["intake_definitions"], definitions.Registry)
