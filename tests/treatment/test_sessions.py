"""Recording sessions (SPEC 4.1): the clearance and consent gate with its audited override,
the record form (no JavaScript and htmx), corrections and cancellations that keep history."""
from __future__ import annotations

import json
import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Patient, TreatmentSession
from portal.treatment import services
from tests.factories import make_patient
from tests.markup import parse
from tests.treatment.helpers import HX, REGION, history, make_treatable, record


def sessions_url(user) -> str:
    return f"/clinic/patients/{user.patient.public_id}/sessions"


def record_form(client, user, **overrides) -> dict:
    """The record form as drawn (date, time and form key filled in), with a region."""
    html = client.get(sessions_url(user)).get_data(as_text=True)
    doc = parse(html)
    values = {}
    for name in ("day", "time", "form_key"):
        found = doc.find_all("input", name=name)
        values[name] = found[0].attrs.get("value")
    values.update({"regions": [REGION, "back.shoulder_blade.left"], "nprs_before": "6",
                   "notes": "Paraspinals tight.", "override_reason": ""})
    values.update(overrides)
    return values


def sessions_of(user) -> list[TreatmentSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(TreatmentSession)
                                   .where(TreatmentSession.patient_id == user.patient.id)))


def audit_actions(user) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action)
                                   .where(AuditEvent.patient_id == user.patient.id)
                                   .order_by(AuditEvent.id)))


# --- the gate -------------------------------------------------------------------------------

@pytest.mark.parametrize("missing, kwargs", [
    (["clearance"], {"cleared": False}),
    (["consent"], {"consented": False}),
    (["clearance", "consent"], {"cleared": False, "consented": False}),
])
def test_refused_without_clearance_or_consent(app, doctor_client, missing, kwargs):
    user = make_treatable(**kwargs)
    assert services.gate(user.patient).missing == missing
    response = doctor_client.post(sessions_url(user), data=record_form(doctor_client, user))
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    error = doc.find_all("p", id="override_reason-error")
    assert error, "the refusal is shown by the reason field"
    assert doc.find_all(class_="error-summary")
    assert sessions_of(user) == []
    with pytest.raises(services.GateRefused) as refused:
        record(user)
    assert refused.value.missing == missing


def test_allowed_with_an_override_and_a_reason_which_is_audited(app, doctor_client, doctor):
    user = make_treatable(cleared=False)
    data = record_form(doctor_client, user,
                       override_reason="Clearance faxed, the letter is on its way.")
    response = doctor_client.post(sessions_url(user), data=data)
    assert response.status_code == 303
    session, = sessions_of(user)
    assert session.override_gates == ["clearance"]
    assert session.override_reason == "Clearance faxed, the letter is on its way."
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "session.gate_overridden"))
    assert event.patient_id == user.patient.id and event.actor_id == doctor.id
    # The reason is kept in the audit event as well as on the session.
    assert json.loads(event.detail) == {"missing": ["clearance"],
                                        "reason": "Clearance faxed, the letter is on its way."}
    # Visible on the patient's page.
    page = doctor_client.get(sessions_url(user)).get_data(as_text=True)
    assert "Recorded with an override" in page and "Clearance faxed" in page


@pytest.mark.parametrize("reason, recorded", [
    ("  " + "x" * 14 + "  ", False),  # 14 characters once its spaces are stripped
    ("  " + "x" * 15 + "  ", True),
])
def test_an_override_reason_needs_15_characters(app, doctor_client, doctor, reason, recorded):
    user = make_treatable(cleared=False)
    response = doctor_client.post(sessions_url(user),
                                  data=record_form(doctor_client, user, override_reason=reason))
    if not recorded:
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        doc = parse(html)
        error, = doc.find_all("p", id="override_reason-error")
        assert "at least 15 characters" in error.text
        assert "x" * 14 in html  # what was typed is kept
        assert sessions_of(user) == []
        with pytest.raises(services.GateRefused):
            record(user, doctor, override=reason)
        return
    assert response.status_code == 303
    session, = sessions_of(user)
    assert session.override_reason == "x" * 15
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "session.gate_overridden"))
    assert json.loads(event.detail)["reason"] == "x" * 15


def test_the_consent_must_be_signed_before_the_session(app, doctor):
    from portal.models import ConsentSignature
    user = make_treatable()
    signature = db.session.scalar(select(ConsentSignature).where(
        ConsentSignature.patient_id == user.patient.id))
    # Signed at 10:00 on the session's day: a session at 10:00 passes, one at 09:59 does not.
    signed = clock.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    signature.signed_at = signed
    db.session.commit()
    patient = db.session.get(Patient, user.patient.id)
    assert services.gate(patient, at=signed).open
    assert services.gate(patient, at=signed - timedelta(minutes=1)).missing == ["consent"]
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=2 + 1 / 60)
    assert refused.value.missing == ["consent"]
    record(user, doctor, hours_ago=1)


def test_a_cleared_and_consented_patient_needs_no_reason(app, doctor_client, patient):
    response = doctor_client.post(sessions_url(patient), data=record_form(doctor_client, patient))
    assert response.status_code == 303
    session, = sessions_of(patient)
    assert session.regions == [REGION, "back.shoulder_blade.left"]
    assert session.nprs_before == 6 and session.notes == "Paraspinals tight."
    assert session.override_reason is None
    assert db.session.get(Patient, patient.patient.id).status == "in_treatment"
    assert "session.recorded" in audit_actions(patient)
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "rating_due"))
    assert mail.to_addr == patient.email
    assert f"/me/sessions/{session.public_id}/rating" in mail.body_text
    for word in ("pain", "needl", "sore", "Paraspinals", "low back"):
        assert word not in mail.body_text.lower() and word not in mail.subject.lower()


def test_the_date_and_time_are_the_clinics_and_stored_in_utc(app, doctor_client, patient):
    # America/Vancouver by default: 09:30 on a summer day is 16:30 UTC ...
    data = record_form(doctor_client, patient, day="2026-07-20", time="09:30")
    assert doctor_client.post(sessions_url(patient), data=data).status_code == 303
    session, = sessions_of(patient)
    assert session.treated_at.isoformat() == "2026-07-20T16:30:00+00:00"
    # ... and it is shown as typed, in Canadian English ("a.m.", not the US "AM").
    page = doctor_client.get(sessions_url(patient)).get_data(as_text=True)
    assert re.search(r"Jul 20, 2026, 9:30\sa\.m\.", page.replace("\u202f", " "))
    correct = doctor_client.get(f"/clinic/sessions/{session.public_id}/correct")
    assert 'value="09:30"' in correct.get_data(as_text=True)


def test_the_same_form_sent_twice_records_one_session(app, doctor_client, patient):
    data = record_form(doctor_client, patient)
    assert doctor_client.post(sessions_url(patient), data=data).status_code == 303
    assert doctor_client.post(sessions_url(patient), data=data).status_code == 303
    assert len(sessions_of(patient)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == "rating_due")) == 1


@pytest.mark.parametrize("overrides, field", [
    ({"regions": []}, "regions"),
    ({"regions": ["front.tail.left"]}, "regions"),
    ({"day": ""}, "day"),
    ({"time": "25:99"}, "time"),
    ({"nprs_before": "12"}, "nprs_before"),
    # The far ends of the calendar: their last minutes have no UTC instant.
    ({"day": "9999-12-31", "time": "23:59"}, "day"),
    ({"day": "0001-01-01", "time": "00:00"}, "day"),
])
def test_invalid_record_forms(app, doctor_client, patient, overrides, field):
    response = doctor_client.post(sessions_url(patient),
                                  data=record_form(doctor_client, patient, **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and "error-summary" in html
    assert f'href="#{field}"' in html and f'id="{field}"' in html
    assert sessions_of(patient) == []


def test_a_session_in_the_future_is_refused(app, doctor_client, patient):
    tomorrow = (clock.now() + timedelta(days=2)).date().isoformat()
    response = doctor_client.post(sessions_url(patient),
                                  data=record_form(doctor_client, patient, day=tomorrow))
    assert response.status_code == 422
    assert "cannot be in the future" in response.get_data(as_text=True)


def test_recording_with_htmx_swaps_the_fragment(app, doctor_client, patient):
    data = record_form(doctor_client, patient)
    response = doctor_client.post(sessions_url(patient), data=data, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<div id=\"patient-sessions\"") and "<html" not in html
    assert "Session 1" in html and 'data-hx-swap-oob="true"' in html
    bad = doctor_client.post(sessions_url(patient), data={**record_form(doctor_client, patient),
                                                           "regions": []}, headers=HX)
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)


def test_the_gate_uses_the_clearance_on_the_day_of_the_session(app, doctor):
    user = make_treatable(cleared=False)
    from portal.documents import services as documents
    from tests.factories import make_document
    make_document(user, status="accepted",
                  valid_until=documents.today() + timedelta(days=1))
    # Valid until tomorrow: a session today is allowed ...
    record(user, doctor, hours_ago=1)
    clock.advance(days=5)  # ... and one after the clearance expired is not.
    with pytest.raises(services.GateRefused):
        record(user, doctor, hours_ago=1)


def test_the_clearance_is_valid_from_its_letter_date_to_its_end_date(app, doctor):
    """Each end at its boundary: the letter's day and the valid-until day pass, the day
    before and the day after do not; a session 400 days back is refused."""
    from portal.documents import services as documents
    from tests.factories import make_document
    user = make_treatable(cleared=False)
    today = documents.today()
    letter, until = today - timedelta(days=20), today + timedelta(days=1)
    make_document(user, status="accepted", letter_date=letter, valid_until=until)
    patient = db.session.get(Patient, user.patient.id)

    def noon(day):
        return services.clinic_datetime(day, time(12, 0))

    assert services.gate(patient, at=noon(letter)).open
    assert services.gate(patient, at=noon(letter - timedelta(days=1))).missing == ["clearance"]
    assert services.gate(patient, at=noon(until)).open
    assert services.gate(patient, at=noon(until + timedelta(days=1))).missing == ["clearance"]
    data = services.SessionInput(treated_at=noon(today - timedelta(days=400)),
                                 regions=[REGION])
    with pytest.raises(services.GateRefused) as refused:
        services.record_session(patient, doctor, data)
    assert refused.value.missing == ["clearance"]


# --- corrections and cancellations -------------------------------------------------------

def test_a_correction_keeps_what_it_replaced_and_is_audited(app, doctor_client, doctor, patient):
    session = record(patient, doctor, hours_ago=3)
    url = f"/clinic/sessions/{session.public_id}/correct"
    page = doctor_client.get(url)
    assert page.status_code == 200
    doc = parse(page.get_data(as_text=True))
    day = doc.find_all("input", name="day")[0].attrs["value"]
    time = doc.find_all("input", name="time")[0].attrs["value"]
    # No reason: refused, by the field.
    response = doctor_client.post(url, data={"day": day, "time": time, "regions": [REGION],
                                             "nprs_before": "5", "notes": "x", "reason": ""})
    assert response.status_code == 422 and 'id="reason-error"' in response.get_data(as_text=True)
    response = doctor_client.post(url, data={
        "day": day, "time": time, "regions": [REGION, "back.buttock.right"], "nprs_before": "5",
        "notes": "Tight quadratus lumborum.", "reason": "Forgot the gluteal needling."})
    assert response.status_code == 303
    db.session.expire_all()
    session = db.session.get(TreatmentSession, session.id)
    assert session.regions == [REGION, "back.buttock.right"] and session.nprs_before == 5
    change, = session.corrections
    assert change["reason"] == "Forgot the gluteal needling."
    assert change["previous"] == {"regions": [REGION], "nprs_before": None}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.corrected"))
    assert json.loads(event.detail) == {"fields": ["nprs_before", "regions"]}
    page = doctor_client.get(sessions_url(patient)).get_data(as_text=True)
    assert "Corrected once" in page and "Forgot the gluteal needling." in page


def test_a_correction_runs_the_gate_again_at_the_new_date(app, doctor_client, doctor):
    from portal.documents import services as documents
    from tests.factories import make_document
    user = make_treatable(cleared=False)
    valid_until = documents.today() + timedelta(days=1)
    make_document(user, status="accepted", valid_until=valid_until)
    session = record(user, doctor, hours_ago=1)
    clock.advance(days=10)
    url = f"/clinic/sessions/{session.public_id}/correct"

    def correct(day, notes, override=""):
        return doctor_client.post(url, data={
            "day": day.isoformat(), "time": "12:00", "regions": [REGION], "nprs_before": "",
            "notes": notes, "reason": "The date was typed wrong.", "override_reason": override})

    # On the clearance's last day: allowed, no override.
    assert correct(valid_until, "Moved to the last day.").status_code == 303
    # The day after: refused by the date field, everything typed kept, nothing changed.
    response = correct(valid_until + timedelta(days=1), "Moved past the expiry.")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error, = parse(html).find_all("p", id="day-error")
    assert "no valid physician's clearance" in error.text
    assert "Moved past the expiry." in html and "The date was typed wrong." in html
    db.session.expire_all()
    session = db.session.get(TreatmentSession, session.id)
    assert services.clinic_date(session.treated_at) == valid_until
    assert session.override_reason is None and len(session.corrections) == 1
    # A reason too short is refused by the reason's field.
    response = correct(valid_until + timedelta(days=1), "Moved past the expiry.", "x" * 14)
    assert response.status_code == 422
    assert parse(response.get_data(as_text=True)).find_all("p", id="override_reason-error")
    # With a reason: kept, on the session and in the audit event.
    reason = "Renewal letter seen, upload to follow."
    assert correct(valid_until + timedelta(days=1), "Moved past the expiry.",
                   reason).status_code == 303
    db.session.expire_all()
    session = db.session.get(TreatmentSession, session.id)
    assert session.override_gates == ["clearance"] and session.override_reason == reason
    assert session.corrections[-1]["previous"]["override_reason"] is None
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "session.gate_overridden"))
    assert json.loads(event.detail) == {"missing": ["clearance"], "reason": reason}


@pytest.mark.parametrize("day, time", [("9999-12-31", "23:59"), ("0001-01-01", "00:00")])
def test_a_correction_to_the_end_of_the_calendar_is_refused_by_the_field(app, doctor_client,
                                                                         doctor, patient, day,
                                                                         time):
    session = record(patient, doctor, hours_ago=3)
    url = f"/clinic/sessions/{session.public_id}/correct"
    response = doctor_client.post(url, data={"day": day, "time": time, "regions": [REGION],
                                             "reason": "Wrong day."})
    assert response.status_code == 422 and 'id="day-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).corrections == []


def test_a_cancelled_session_stays_marked_and_is_not_rated(app, doctor_client, doctor, patient):
    session = record(patient, doctor)
    url = f"/clinic/sessions/{session.public_id}/cancel"
    assert doctor_client.post(url, data={"cancel_reason": ""}).status_code == 422
    assert doctor_client.post(url, data={"cancel_reason": "Recorded for the wrong patient."}
                              ).status_code == 303
    session, = sessions_of(patient)
    assert session.status == "cancelled" and session.cancelled_by_id == doctor.id
    assert "session.cancelled" in audit_actions(patient)
    assert services.to_rate(session.patient) == []
    page = doctor_client.get(sessions_url(patient)).get_data(as_text=True)
    assert "Cancelled session" in page and "Recorded for the wrong patient." in page
    # Not twice, and no corrections after.
    doctor_client.post(url, data={"cancel_reason": "again"})
    assert audit_actions(patient).count("session.cancelled") == 1
    assert doctor_client.get(f"/clinic/sessions/{session.public_id}/correct").status_code == 404


def test_viewing_a_patients_sessions_is_audited(app, doctor_client, doctor, patient):
    doctor_client.get(sessions_url(patient))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sessions.viewed"))
    assert event.patient_id == patient.patient.id and event.actor_id == doctor.id


def test_private_notes_never_reach_the_patient(app, doctor, patient, patient_client):
    session = record(patient, doctor)
    for url in ("/me/", "/me/sessions/", f"/me/sessions/{session.public_id}/rating",
                "/me/progress"):
        assert "quadratus" not in patient_client.get(url).get_data(as_text=True), url


def test_staff_pages_for_a_patient_without_intake(app, doctor_client):
    user = make_patient()
    page = doctor_client.get(sessions_url(user))
    assert page.status_code == 200
    assert "none yet" in page.get_data(as_text=True)


def test_a_session_for_a_discharged_patient_readmits_them_in_the_log(app, doctor):
    user = make_treatable()
    history(user, [5])
    patient = db.session.get(Patient, user.patient.id)
    patient.status = "discharged"
    db.session.commit()
    record(user, doctor)
    db.session.refresh(patient)
    assert patient.status == "in_treatment"
    actions = list(db.session.scalars(select(AuditEvent.action)
                                      .where(AuditEvent.patient_id == patient.id)
                                      .order_by(AuditEvent.id)))
    assert actions[-2:] == ["session.recorded", "patient.readmitted"]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert json.loads(event.detail) == {"to": "in_treatment"} and event.actor_id == doctor.id
    # A patient already in treatment is not re-admitted again.
    record(user, doctor, hours_ago=3)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.patient_id == patient.id, AuditEvent.action == "patient.readmitted")) == 1
