"""The safety check after a session, "I have a problem after my session", and the clinic's
acknowledgement (SPEC 4.2, 5.1; portal/treatment/safety.py)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock, tasks
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, SafetyReport, User
from portal.treatment import safety, services
from tests.factories import make_admin, make_practitioner
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import HX, make_treatable, raise_alert, record

CHECK_NAME = "check-{id}-symptoms"
YES = ["shortness_of_breath", "pain_breathing_in"]


def check_url(session) -> str:
    return f"/me/sessions/{session.public_id}/safety-check"


def answer(client, session, symptoms=(), button="some", headers=None):
    prefix = f"check-{session.public_id}"
    data = {f"{prefix}-symptoms": list(symptoms), f"{prefix}-answer": button}
    return client.post(check_url(session), data=data, headers=headers or {})


def reports(**where) -> list[SafetyReport]:
    db.session.expire_all()
    return list(db.session.scalars(select(SafetyReport).filter_by(**where)
                                   .order_by(SafetyReport.id)))


def alert_mail() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage)
                                   .where(OutboxMessage.kind == "safety_alert")
                                   .order_by(OutboxMessage.id)))


def ack(client, report, note, headers=None):
    return client.post(f"/clinic/safety/{report.public_id}/acknowledge",
                       data={f"ack-{report.public_id}-note": note}, headers=headers or {})


def assign(user, practitioner):
    user.patient.practitioner_id = practitioner.id
    db.session.commit()
    return user


# --- the patient's side -----------------------------------------------------------------

def test_the_check_is_on_the_home_page_as_soon_as_the_session_is_recorded(
        app, patient, patient_client, doctor):
    session = record(patient, doctor, hours_ago=0.05)
    html = patient_client.get("/me/").get_data(as_text=True)
    doc = parse(html)
    card = doc.by_id(f"safety-check-{session.public_id}")
    assert card is not None and "Safety check after your session" in card.text
    boxes = [e for e in doc.find_all("input")
             if e.attrs.get("name") == CHECK_NAME.format(id=session.public_id)]
    assert [b.attrs["value"] for b in boxes] == list(safety.SYMPTOMS)
    assert all(b.attrs.get("type") == "checkbox" for b in boxes)
    assert "None of these" in card.text and "I have a problem after my session" in html
    # It does not wait for the rating (SPEC 4.2): answered now.
    response = answer(patient_client, session, button="none")
    assert response.status_code == 303
    assert [(r.kind, r.alert, r.symptoms) for r in reports()] == [("check", False, [])]


def test_a_yes_shows_the_urgent_advice_at_once_and_alerts_the_whole_clinic(
        app, patient, patient_client, doctor):
    colleague = make_practitioner(name="Dr. Other")
    own = assign(make_treatable(name="Olive Own"), colleague)  # "mine" for the colleague
    admin = make_admin(name="Ada Admin")
    gone = make_practitioner(name="Gone Away", active=False)
    unjoined = make_practitioner(name="Not Joined", password=None, mfa=False)
    assign(patient, doctor)
    session = record(patient, doctor, hours_ago=1)
    response = answer(patient_client, session, YES, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    doc = parse(html)
    advice = doc.by_id("safety-advice")
    assert advice.attrs.get("role") == "alert"
    assert "Call 911 or go to the nearest emergency department now. Do not drive yourself." \
        in advice.text
    [report] = reports()
    assert (report.kind, report.alert, report.symptoms, report.session_id) == \
        ("check", True, YES, session.id)
    # The home page keeps the advice in sight while the clinic has not acknowledged it.
    home = parse(patient_client.get("/me/").get_data(as_text=True))
    assert "Get medical help now" in home.by_id("safety-advice").text
    assert home.by_id(f"safety-check-{session.public_id}") is None

    # Audited without what the patient felt.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.reported"))
    detail = event.detail if isinstance(event.detail, dict) else json.loads(event.detail)
    assert detail == {"kind": "check", "alert": True}
    # E-mailed to every active member of staff who has joined, nothing about the patient.
    mails = alert_mail()
    staff = set(db.session.scalars(select(User.email).where(
        User.role.in_(("practitioner", "admin")), User.active.is_(True),
        User.password_hash.is_not(None))))
    assert sorted(m.to_addr for m in mails) == sorted(staff)
    assert {doctor.email, colleague.email, admin.email} <= staff
    assert not {gone.email, unjoined.email} & {m.to_addr for m in mails}
    assert len(staff) == len(mails)
    for message in mails:
        for part in (message.subject, message.body_text, message.body_html):
            for secret in ("Margaret", "Côté", "breath", "chest", "pneumothorax"):
                assert secret not in part, (secret, part)
        assert "http://localhost/clinic/" in message.body_text

    # The colleague's worklist, showing "my patients", lists it first.
    assert own.patient.practitioner_id == colleague.id
    other = signed_in(app, colleague)
    page = parse(other.get("/clinic/?who=mine").get_data(as_text=True))
    red = page.by_id("red-flags")
    assert "Margaret Côté" in red.text and "New shortness of breath" in red.text
    assert "Pain when you breathe in" in red.text and "Practitioner: Dr. Jordan Lee" in red.text
    assert "Margaret Côté" not in page.by_id("ratings-overdue").text


def test_the_mail_goes_only_to_the_clinic_alert_address_when_set(
        app, patient, patient_client, doctor):
    app.config["CLINIC_ALERT_EMAIL"] = "urgent@clinic.example"
    session = record(patient, doctor)
    answer(patient_client, session, ["chest_pain"])
    [message] = alert_mail()
    assert message.to_addr == "urgent@clinic.example"
    assert message.body_text.startswith("Hello,")


def test_no_mail_server_is_asked_during_the_request(mail_app, smtp_server, patient,
                                                     patient_client, doctor):
    session = record(patient, doctor)
    tasks.huey.flush()
    answer(patient_client, session, ["chest_pain"])
    assert smtp_server.messages == []
    assert all(m.status == "pending" for m in alert_mail())
    assert [t.name for t in tasks.huey.pending()] == ["deliver_mail"]
    tasks.run_pending()
    urgent = [m for m in smtp_server.parsed() if m["Subject"].startswith("Urgent")]
    assert sorted(m["To"] for m in urgent) == sorted(m.to_addr for m in alert_mail())
    assert doctor.email in [m["To"] for m in urgent]
    assert all(m.status == "sent" for m in alert_mail())


def test_a_no_is_kept_the_card_goes_and_sending_twice_stores_once(
        app, patient, patient_client, doctor):
    session = record(patient, doctor)
    for _ in range(2):
        response = answer(patient_client, session, button="none", headers=HX)
        assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    assert [(r.alert, r.symptoms) for r in reports()] == [(False, [])]
    assert alert_mail() == []
    assert f"safety-check-{session.public_id}" not in \
        patient_client.get("/me/").get_data(as_text=True)
    # The same check again, with a "yes" this time, changes nothing: the problem report is
    # the way to tell something new.
    answer(patient_client, session, ["chest_pain"])
    assert [(r.alert, r.symptoms) for r in reports()] == [(False, [])]


def test_nothing_ticked_is_asked_again(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    response = answer(patient_client, session, headers=HX)
    assert response.status_code == 422
    assert "None of these" in response.get_data(as_text=True)
    assert reports() == []


def test_a_cancelled_session_has_no_check(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    services.cancel_session(session, doctor, "Recorded for the wrong patient.")
    assert f"safety-check-{session.public_id}" not in \
        patient_client.get("/me/").get_data(as_text=True)
    response = answer(patient_client, session, ["chest_pain"])
    assert response.status_code == 303
    assert reports() == [] and alert_mail() == []


def test_another_patients_session_is_not_found(app, patient, doctor):
    session = record(patient, doctor)
    other = signed_in(app, make_treatable(name="Oscar Other"))
    assert answer(other, session, ["chest_pain"]).status_code == 404
    assert reports() == [] and alert_mail() == []


def test_the_check_closes_seven_days_after_the_session(app, patient, patient_client, doctor):
    early = record(patient, doctor, hours_ago=1)
    late = record(patient, doctor, hours_ago=0.5)
    clock.advance(days=6, hours=20)
    assert answer(patient_client, early, button="none").status_code == 303
    clock.advance(hours=4)  # 7 days and 30 minutes after ``late``
    assert f"safety-check-{late.public_id}" not in \
        patient_client.get("/me/").get_data(as_text=True)
    response = answer(patient_client, late, ["chest_pain"])
    assert response.status_code == 303
    assert "have closed" in patient_client.get("/me/").get_data(as_text=True)
    assert [r.session_id for r in reports()] == [early.id]


# --- "I have a problem after my session" -------------------------------------------------

@pytest.mark.parametrize("days,accepted", [(6, True), (8, False)])
def test_a_problem_can_be_reported_for_seven_days(app, patient, patient_client, doctor,
                                                 days, accepted):
    session = record(patient, doctor, hours_ago=1)
    clock.advance(days=days)
    page = patient_client.get("/me/problem").get_data(as_text=True)
    home = patient_client.get("/me/").get_data(as_text=True)
    assert ("I have a problem after my session</a>" in home) is accepted
    response = patient_client.post("/me/problem", data={
        "symptoms": ["upper_back_shoulder_neck_pain"], "comment": "Sharp pain by the blade."})
    html = response.get_data(as_text=True)
    if accepted:
        assert 'name="symptoms"' in page
        assert response.status_code == 200
        assert "Call 911 or go to the nearest emergency department now." in html
        [report] = reports()
        assert (report.kind, report.alert, report.session_id, report.comment) == \
            ("problem", True, session.id, "Sharp pain by the blade.")
        assert alert_mail() and doctor.email in [m.to_addr for m in alert_mail()]
    else:
        assert 'name="symptoms"' not in page
        assert response.status_code == 422
        assert "You can report a problem here for 7 days after a session." in html
        assert reports() == [] and alert_mail() == []


def test_a_problem_needs_something_said_and_is_kept_once(app, patient, patient_client,
                                                         doctor):
    record(patient, doctor)
    response = patient_client.post("/me/problem", data={"comment": "  "})
    assert response.status_code == 422 and reports() == []
    for _ in range(2):
        patient_client.post("/me/problem", data={"comment": "Dizzy since this morning."})
    [report] = reports()
    assert report.symptoms == [] and report.alert


# --- the clinic acknowledges --------------------------------------------------------------

def test_acknowledging_needs_a_note_is_audited_and_shown_to_colleagues(
        app, patient, doctor, doctor_client):
    colleague = make_practitioner(name="Dr. Other")
    report = raise_alert(record(patient, doctor))
    for note in ("", "  ", "ok"):
        response = ack(doctor_client, report, note, headers=HX)
        assert response.status_code == 422
        assert "Write a note of at least 3 characters" in response.get_data(as_text=True)
    assert reports()[0].acknowledged_at is None
    assert not db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "safety.acknowledged"))

    response = ack(doctor_client, report, "Phoned her: no breathlessness; advised ED if worse.",
                   headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Margaret Côté" not in parse(html).by_id("red-flags").text
    assert "Acknowledged. Your note is on the patient&#39;s chart." in html or \
        "Acknowledged. Your note is on the patient's chart." in html
    [stored] = reports()
    assert stored.acknowledged_by_id == doctor.id
    assert stored.acknowledgement_note == "Phoned her: no breathlessness; advised ED if worse."
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "safety.acknowledged"))
    assert event.actor_id == doctor.id and event.subject == report.public_id

    other = signed_in(app, colleague)
    chart = parse(other.get(f"/clinic/patients/{patient.patient.public_id}/sessions")
                  .get_data(as_text=True))
    shown = " ".join(chart.by_id("safety-reports").text.split())
    assert "Acknowledged by Dr. Jordan Lee at" in shown
    assert "Phoned her: no breathlessness; advised ED if worse." in shown
    assert "Margaret Côté" not in parse(other.get("/clinic/?who=all").get_data(as_text=True)) \
        .by_id("red-flags").text
    # The patient's home no longer shows the advice once the clinic has it in hand.
    assert 'id="safety-advice"' not in \
        signed_in(app, patient).get("/me/").get_data(as_text=True)


def test_a_second_acknowledgement_is_refused_and_changes_nothing(app, patient, doctor,
                                                                 doctor_client):
    colleague = make_practitioner(name="Dr. Other")
    report = raise_alert(record(patient, doctor))
    other = signed_in(app, colleague)
    assert ack(doctor_client, report, "Called, she is fine.").status_code == 303
    response = ack(other, report, "I called too.", headers=HX)
    assert "Already acknowledged by Dr. Jordan Lee at" in response.get_data(as_text=True)
    [stored] = reports()
    assert (stored.acknowledged_by_id, stored.acknowledgement_note) == \
        (doctor.id, "Called, she is fine.")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "safety.acknowledged")) == 1
    with pytest.raises(safety.SafetyError) as refused:
        safety.acknowledge(stored, colleague, "Once more.")
    assert refused.value.code == "acknowledged"


def test_a_red_flag_intake_is_reviewed_from_the_worklist_with_a_note(app, doctor,
                                                                     doctor_client):
    from tests.factories import make_patient
    from tests.intake.helpers import make_intake
    user = make_patient(name="Rita Redflag")
    make_intake(user, rf_fever="yes")
    url = f"/clinic/red-flags/intakes/{user.patient.public_id}/review"
    intake_id = db.session.scalar(select(SafetyReport.id).limit(1))  # none: a plain intake
    assert intake_id is None
    from portal.intake import services as intake_services
    response_id = intake_services.submitted_response(user.patient).public_id
    refused = doctor_client.post(url, data={f"ack-{response_id}-note": ""}, headers=HX)
    assert refused.status_code == 422
    assert "Rita Redflag" in parse(refused.get_data(as_text=True)).by_id("red-flags").text
    done = doctor_client.post(url, data={f"ack-{response_id}-note": "Fever gone; GP saw him."})
    assert done.status_code == 303
    db.session.expire_all()
    response = intake_services.submitted_response(user.patient)
    assert response.reviewed_by_id == doctor.id
    assert response.review_note == "Fever gone; GP saw him."
    again = doctor_client.post(url, data={f"ack-{response_id}-note": "Again."}, headers=HX)
    assert "Already acknowledged by Dr. Jordan Lee" in again.get_data(as_text=True)


# --- French -----------------------------------------------------------------------------------

def test_the_check_and_the_advice_in_french(app, doctor):
    user = make_treatable(name="Isabelle Roy", locale="fr_CA")
    session = record(user, doctor)
    client = signed_in(app, user)
    home = client.get("/me/").get_data(as_text=True)
    assert "Aucun de ces symptômes" in home
    assert "Nouvel essoufflement" in home
    assert "un problème depuis ma séance" in home
    html = answer(client, session, ["chest_pain"], headers=HX).get_data(as_text=True)
    assert "Composez le 911 ou rendez-vous maintenant" in html
    assert "Ne conduisez pas vous-même." in html
    assert doctor.email in [m.to_addr for m in alert_mail()]


def test_reports_before_now_stay_apart_from_the_window(app, patient, doctor):
    """``to_check`` counts from the session's time: a session recorded late (its time a day
    ago) keeps six days to answer."""
    session = record(patient, doctor, hours_ago=24)
    assert safety.check_closes_at(session) - clock.now() < timedelta(days=6, minutes=1)
    assert safety.to_check(patient.patient) == [session]


def test_an_unacknowledged_safety_alert_holds_the_next_session_at_its_time(app):
    """SPEC 4.1: the gate refuses a session while a safety alert raised before the session's
    time was not acknowledged by then; the session before the alert is not held, and an
    acknowledgement given after the session's time does not cover it."""
    user = make_treatable()
    practitioner = make_practitioner()
    first = record(user, practitioner, hours_ago=48)
    report = raise_alert(first, symptoms=("pain_breathing_in",))
    report.created_at = clock.now() - timedelta(hours=10)
    db.session.commit()

    assert services.gate(user.patient, at=clock.now() - timedelta(hours=11)).open
    held = services.gate(user.patient, at=clock.now() - timedelta(hours=5))
    assert held.missing == ["red_flags"] and held.red_flags == ["Pain when you breathe in"]
    with pytest.raises(services.GateRefused):
        record(user, practitioner, hours_ago=5)

    safety.acknowledge(report, practitioner, "Called her; no breathlessness now, seen today.")
    assert services.gate(user.patient).open
    # Acknowledged now: a session five hours ago still was not covered.
    assert services.gate(user.patient, at=clock.now() - timedelta(hours=5)).missing == [
        "red_flags"]
    assert record(user, practitioner, hours_ago=0).status == "recorded"
