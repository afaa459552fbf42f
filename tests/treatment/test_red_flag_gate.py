"""The gate's red-flag check (SPEC 4.1, issue 14): a session is refused while the patient's
submitted intake has red flags no practitioner had reviewed by the session's time, unless
the practitioner gives a reason to go ahead (kept on the session and audited); a correction
runs the check again at the corrected time."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import staff
from portal.models import AuditEvent, IntakeResponse, Patient, TreatmentSession
from portal.treatment import services
from tests.factories import make_patient
from tests.markup import parse
from tests.treatment.helpers import REGION, make_treatable, record
from tests.treatment.test_sessions import record_form, sessions_of, sessions_url

REASON = "Flags discussed by phone today."


def flagged_patient():
    """A cleared, consented patient whose intake answered yes to unexplained weight loss."""
    user = make_treatable(make_patient(), baseline=None)
    from tests.intake.helpers import make_intake
    make_intake(user, rf_weight_loss="yes")
    from portal.models import ConsentSignature
    for signature in db.session.scalars(select(ConsentSignature).where(
            ConsentSignature.patient_id == user.patient.id)):
        signature.signed_at = clock.now() - timedelta(days=730)
    db.session.commit()
    from tests.intake.helpers import discuss_consent
    discuss_consent(user)  # both parts of consent: only the red flags shut the gate here
    return user


def review(user, reviewer) -> None:
    response = db.session.scalar(select(IntakeResponse).where(
        IntakeResponse.patient_id == user.patient.id))
    assert staff.mark_reviewed(response, reviewer, "Spoke with the patient; safe to go ahead.")


def test_unreviewed_red_flags_refuse_the_session_and_the_form_names_them(app, doctor_client):
    user = flagged_patient()
    assert services.gate(user.patient).missing == ["red_flags"]
    page = doctor_client.get(sessions_url(user)).get_data(as_text=True)
    notice = parse(page).find_all(class_="notice notice--warn")
    text = " ".join(n.text for n in notice)
    assert "red flags no practitioner had reviewed" in text and "weight loss" in text
    response = doctor_client.post(sessions_url(user), data=record_form(doctor_client, user))
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="override_reason-error")
    assert "red flags no practitioner had reviewed" in error.text
    assert sessions_of(user) == []
    with pytest.raises(services.GateRefused) as refused:
        record(user)
    assert refused.value.missing == ["red_flags"]


def test_the_form_names_the_flags_in_french(app, doctor_client, doctor):
    user = flagged_patient()
    doctor.locale = "fr_CA"
    db.session.commit()
    page = doctor_client.get(sessions_url(user)).get_data(as_text=True)
    text = " ".join(n.text for n in parse(page).find_all(class_="notice notice--warn"))
    assert "signaux d'alarme qu'aucun praticien n'avait examinés" in text


def test_reviewed_before_the_session_allows_it(app, doctor):
    user = flagged_patient()
    review(user, doctor)
    clock.advance(hours=2)
    patient = db.session.get(Patient, user.patient.id)
    assert services.gate(patient).open
    session = record(user, doctor, hours_ago=1)
    assert session.override_gates is None


def test_a_session_back_dated_before_the_review_is_refused(app, doctor):
    user = flagged_patient()
    review(user, doctor)
    clock.advance(minutes=30)
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=1)  # before the review, though recorded after it
    assert refused.value.missing == ["red_flags"]
    assert sessions_of(user) == []


def test_an_override_with_15_characters_records_and_audits(app, doctor_client, doctor):
    user = flagged_patient()
    with pytest.raises(services.GateRefused):
        record(user, doctor, override="x" * 14)
    response = doctor_client.post(sessions_url(user), data=record_form(
        doctor_client, user, override_reason="x" * 15))
    assert response.status_code == 303
    session, = sessions_of(user)
    assert session.override_gates == ["red_flags"] and session.override_reason == "x" * 15
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "session.gate_overridden"))
    assert json.loads(event.detail) == {"missing": ["red_flags"], "reason": "x" * 15}


def test_a_correction_runs_the_red_flag_check_again(app, doctor_client, doctor):
    user = flagged_patient()
    review(user, doctor)
    reviewed = clock.now()
    clock.advance(days=1)
    session = record(user, doctor, hours_ago=1)
    url = f"/clinic/sessions/{session.public_id}/correct"
    before = services.to_clinic(reviewed - timedelta(days=1))

    def correct(override=""):
        return doctor_client.post(url, data={
            "day": before.date().isoformat(), "time": "12:00", "regions": [REGION],
            "nprs_before": "", "notes": "Moved back.", "reason": "The date was typed wrong.",
            "override_reason": override})

    response = correct()
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="day-error")
    assert "red flags no practitioner had reviewed" in error.text
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).corrections == []
    assert correct(REASON).status_code == 303
    db.session.expire_all()
    session = db.session.get(TreatmentSession, session.id)
    assert session.override_gates == ["red_flags"] and session.override_reason == REASON
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "session.gate_overridden"))
    assert json.loads(event.detail) == {"missing": ["red_flags"], "reason": REASON}


def test_the_sessions_page_queries_do_not_grow_with_flags_or_sessions(app, db, doctor_client,
                                                                     doctor):
    from tests.queries import queries_for
    one = flagged_patient()
    many = make_treatable(make_patient(), baseline=None)
    from tests.intake.helpers import make_intake
    make_intake(many, rf_weight_loss="yes", rf_cancer="yes", rf_fever="yes")
    for user in (one, many):
        record(user, doctor, override=REASON)
        doctor_client.get(sessions_url(user))  # the first view settles what is done once
    counts = {"one flag": queries_for(db, doctor_client, sessions_url(one)),
              "three flags": queries_for(db, doctor_client, sessions_url(many))}
    for hours in range(2, 8):
        record(many, doctor, hours_ago=hours, override=REASON)
    counts["seven sessions"] = queries_for(db, doctor_client, sessions_url(many))
    assert len(set(counts.values())) == 1, counts
