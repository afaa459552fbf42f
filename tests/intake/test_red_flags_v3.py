"""Version 3 of the intake (AHCPR red-flag table via CLINICAL.md): the questions version 2
did not ask, advice that depends on when a serious injury happened, and age over 50 noted
for the practitioner; version 2 responses keep their version."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import alerts, services
from portal.intake.definitions import registry
from portal.models import IntakeResponse, Patient
from portal.treatment import intake_link
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import (
    FORM,
    SAFETY_NO,
    answers_v1,
    make_intake,
    post_step,
    response_of,
    submit,
)
from tests.markup import parse


@pytest.fixture
def patient(client, auth):
    user = make_patient(name="Pat Morgan")
    assert auth.login(user).status_code == 303
    return user


def _advice(html: str) -> list[str]:
    """The titles of the advice boxes shown (not hidden) on a page."""
    return [next(c for c in box.children if c.tag == "h2").text.strip()
            for box in parse(html).elements
            if "advice" in (box.attrs.get("class") or "").split() and "hidden" not in box.attrs]


def test_new_intakes_answer_version_3(client, patient):
    assert services.current_definition().version == 3
    page = client.get("/me/intake/5").get_data(as_text=True)
    assert "Have you had surgery on your spine in the past year?" in page
    assert "If yes: when did the injury happen?" in page
    post_step(client, 1)
    assert response_of(patient).definition_version == 3


def test_spinal_surgery_yes_is_a_red_flag_with_its_advice(client, patient):
    response = post_step(client, 5, {**FORM[5], "rf_spinal_surgery": "yes"})
    assert response.status_code == 303
    step5 = client.get("/me/intake/5").get_data(as_text=True)
    assert _advice(step5) == ["Tell your doctor soon"]
    for step in (1, 2, 3, 4, 6):
        assert post_step(client, step).status_code == 303
    assert submit(client).status_code == 303
    stored = response_of(patient)
    assert {"code": "spinal_surgery_past_year", "kind": "red_flag",
            "advice": "soon"} in stored.flags
    assert stored.has_red_flags and stored.red_flag_count == 1


@pytest.mark.parametrize("when,title,code", [
    ("past_6_weeks", "See a doctor today", "major_trauma_recent"),
    ("longer_ago", "Tell your practitioner", "major_trauma_earlier")])
def test_a_serious_injury_gets_advice_by_when_it_happened(client, patient, when, title, code):
    # Without the "when" the step is not complete: the follow-up is required after a yes.
    refused = post_step(client, 5, {**FORM[5], "rf_injury": "yes"})
    assert refused.status_code == 422
    response = post_step(client, 5, {**FORM[5], "rf_injury": "yes", "rf_injury_when": when})
    assert response.status_code == 303
    assert _advice(client.get("/me/intake/5").get_data(as_text=True)) == [title]
    assert title in client.get("/me/intake/7").get_data(as_text=True)
    for step in (1, 2, 3, 4, 6):
        post_step(client, step)
    assert submit(client).status_code == 303
    assert [f["code"] for f in response_of(patient).flags if f["kind"] == "red_flag"] == [code]


def _sent_on(user, born: str, day: datetime) -> IntakeResponse:
    """An intake sent through the real service on ``day`` by a patient born ``born``."""
    clock.advance(seconds=(day - clock.now()).total_seconds())
    try:
        return make_intake(user, dob=born)
    finally:
        clock.reset()


@pytest.mark.parametrize("born,noted", [("1975-06-15", True), ("1975-06-16", False)],
                         ids=["51-on-the-day", "50-on-the-day"])
def test_age_over_50_is_a_note_at_submission(app, client, auth, born, noted):
    """51 on the day the intake is sent: noted; 50 (51 the next day): not. A note for the
    practitioner: no red flag, no advice, nothing that holds up a session."""
    user = make_patient(name="Olive Older")
    # Noon in Vancouver on 2026-06-15 (the clinic's day).
    response = _sent_on(user, born, datetime(2026, 6, 15, 19, 0, tzinfo=UTC))
    assert ({"code": "age_over_50", "kind": "note", "advice": None} in response.flags) is noted
    assert not response.has_red_flags and response.precaution_count == 0
    patient = db.session.get(Patient, user.patient.id)
    assert intake_link.unreviewed_red_flags(patient) == []

    doctor = make_practitioner()
    auth.login(doctor)
    html = client.get(f"/clinic/patients/{patient.public_id}/intake").get_data(as_text=True)
    label = "Over 50 years old (a tumour risk factor: weigh it with the other answers)"
    assert (label in html) is noted
    with app.test_request_context():
        found = alerts.for_response(response)
    assert [a.label for a in found.notes] == ([label] if noted else [])
    assert found.red_flags == [] and found.precautions == []
    chart = client.get(f"/clinic/patients/{patient.public_id}/").get_data(as_text=True)
    assert (label in chart) is noted
    # The patient is told nothing about it.
    client.post("/auth/logout")
    auth.login(user)
    mine = client.get("/me/intake/summary").get_data(as_text=True)
    assert "tumour" not in mine and "50" not in "".join(_advice(mine))


def test_an_in_progress_version_2_response_stays_version_2(client, auth):
    """A patient who started on version 2 finishes on version 2 (SPEC 2.1): the response
    names its version, and the new questions are not asked of it."""
    user = make_patient(name="Val Two")
    v2 = registry().questionnaire("ims_intake", 2)
    answers = {k: v for k, v in answers_v1().items() if k in v2.questions}
    response = IntakeResponse(patient_id=user.patient.id, definition_key="ims_intake",
                              definition_version=2, answers=answers, current_step=5,
                              revision=3, created_at=clock.now(), updated_at=clock.now())
    db.session.add(response)
    db.session.commit()
    auth.login(user)
    page = client.get("/me/intake/5").get_data(as_text=True)
    assert "Did this pain start after a serious injury" in page
    assert "surgery on your spine" not in page and "when did the injury happen" not in page
    v2_safety = {k: v for k, v in SAFETY_NO.items() if k in v2.questions}
    assert post_step(client, 5, {**v2_safety, "rf_injury": "yes"}).status_code == 303
    assert post_step(client, 6).status_code == 303
    assert submit(client).status_code == 303
    db.session.expire_all()
    stored = db.session.scalar(select(IntakeResponse).where(IntakeResponse.id == response.id))
    assert stored.definition_version == 2 and stored.status == "submitted"
    # Version 2's rule: a serious injury, whenever it was, is the urgent "major_trauma".
    assert {"code": "major_trauma", "kind": "red_flag", "advice": "urgent"} in stored.flags
    assert not [f for f in stored.flags if f["kind"] == "note"]  # v2 notes nothing


def test_the_new_questions_and_advice_in_french(client, patient):
    patient.locale = "fr_CA"
    db.session.commit()
    post_step(client, 5, {**FORM[5], "rf_injury": "yes", "rf_injury_when": "longer_ago",
                          "rf_spinal_surgery": "yes"})
    page = client.get("/me/intake/5").get_data(as_text=True)
    assert "Avez-vous eu une opération à la colonne vertébrale au cours de la dernière année?" \
        in page
    assert "Si oui : quand la blessure est-elle survenue?" in page
    assert "Il y a plus de 6 semaines" in page
    assert sorted(_advice(page)) == ["Parlez-en bientôt à votre médecin",
                                     "Parlez-en à votre praticien"]


def test_the_age_note_reads_in_french_for_staff(client, auth):
    user = make_patient(name="Odile Aînée")
    make_intake(user, dob="1950-01-01")
    doctor = make_practitioner(locale="fr_CA")
    auth.login(doctor)
    html = client.get(f"/clinic/patients/{user.patient.public_id}/intake").get_data(
        as_text=True)
    assert "Plus de 50 ans (facteur de risque de tumeur" in html
