"""A withdrawn consent shuts the gate with no override (SPEC 11.1: sessions blocked until
consent is given again): the gate tells "consent_withdrawn" apart from a consent never
signed (or an older version signed), and no reason to go ahead passes it, neither when a
session is recorded nor when one is moved by a correction. The other checks keep their
override."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.models import AuditEvent, Patient, TreatmentSession
from portal.treatment import services
from tests.markup import parse
from tests.treatment.helpers import REGION, make_treatable, record
from tests.treatment.test_sessions import record_form, sessions_of, sessions_url

REASON = "The patient asked me in person to go ahead today."


def _patient(user) -> Patient:
    db.session.expire_all()
    return db.session.get(Patient, user.patient.id)


def _withdrawn(cleared: bool = True):
    """A patient who had a session two days ago, then withdrew their consent an hour ago."""
    user = make_treatable(cleared=cleared)
    session = record(user, hours_ago=48, override=None if cleared else REASON)
    clock.advance(minutes=1)
    row = consents.signature(_patient(user), consents.current_consent())
    assert consents.withdraw(_patient(user), row, "I want to think about it.")
    clock.advance(hours=1)
    return user, session


def _overrides() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "session.gate_overridden"))


def test_a_withdrawal_is_told_apart_and_no_reason_passes_it(app, doctor):
    user, _session = _withdrawn(cleared=False)
    overridden = _overrides()  # the first session's, before the withdrawal
    patient = _patient(user)
    gate = services.gate(patient)
    assert gate.withdrawn and gate.missing == ["clearance", "consent_withdrawn"]
    # Before the withdrawal the consent stood: only the clearance is missing then.
    assert services.gate(patient, at=clock.now() - timedelta(hours=3)).missing == ["clearance"]
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=0.5, override=REASON)
    assert refused.value.final
    assert refused.value.missing == ["clearance", "consent_withdrawn"]
    assert len(sessions_of(user)) == 1 and _overrides() == overridden
    # A consent never signed is still "consent", and its override still works.
    unsigned = make_treatable(consented=False)
    assert services.gate(_patient(unsigned)).missing == ["consent"]
    assert record(unsigned, doctor, hours_ago=0.5,
                  override=REASON).override_gates == ["consent"]


def test_signing_again_needs_the_new_discussion_with_no_override(app, doctor):
    """A new consent AND a new discussion (SPEC 11.1): after signing again the missing
    discussion is "consent_rediscussion", which no reason passes; once it is recorded the
    gate opens."""
    user, _session = _withdrawn()
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    clock.advance(minutes=5)
    gate = services.gate(_patient(user))
    assert not gate.withdrawn and gate.final and gate.missing == ["consent_rediscussion"]
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=0, override=REASON)
    assert refused.value.final and refused.value.missing == ["consent_rediscussion"]
    assert len(sessions_of(user)) == 1
    row = consents.signature(_patient(user), consents.current_consent())
    consents.record_discussion(_patient(user), row, doctor, clock.now(), None)
    clock.advance(minutes=1)
    assert services.gate(_patient(user)).open
    assert record(user, doctor, hours_ago=0).override_gates in (None, [])


def test_a_correction_into_the_withdrawal_is_refused_whatever_the_reason(app, doctor):
    _user, session = _withdrawn()
    moved = services.SessionInput(treated_at=clock.now() - timedelta(minutes=30),
                                  regions=[REGION])
    with pytest.raises(services.GateRefused) as refused:
        services.correct_session(session, doctor, moved, "Typed the wrong day.", REASON)
    assert refused.value.final
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).corrections == []


def _recorded_before_the_fix(user, doctor, treated_at, overridden: list[str]):
    """A session stored as the portal recorded it before these checks were told apart."""
    old = TreatmentSession(patient_id=user.patient.id, recorded_by_id=doctor.id,
                           treated_at=treated_at, regions=[REGION], status="recorded",
                           corrections=[], created_at=clock.now(), updated_at=clock.now(),
                           rating_opens_at=clock.now(), override_gates=overridden,
                           override_reason=REASON)
    db.session.add(old)
    db.session.commit()
    return old


def _correct_notes(session, doctor, treated_at) -> None:
    services.correct_session(session, doctor, services.SessionInput(
        treated_at=treated_at, regions=[REGION], notes="Upper trapezius too."),
        "Forgot a note.")


def test_a_session_overridden_before_the_fix_keeps_its_notes_correctable(app, doctor):
    """A session recorded after a withdrawal with a reason, before withdrawals were told
    apart, holds "consent" in its override: correcting its notes (its time kept) stays
    possible; moving it is refused."""
    user, _session = _withdrawn()
    treated_at = (clock.now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    old = _recorded_before_the_fix(user, doctor, treated_at, ["consent"])
    _correct_notes(old, doctor, treated_at)
    assert old.notes == "Upper trapezius too."


def test_the_form_offers_no_override_and_a_post_with_a_reason_is_refused(app, doctor_client):
    user, _session = _withdrawn()
    page = parse(doctor_client.get(sessions_url(user)).get_data(as_text=True))
    notice, = page.find_all("div", class_="notice notice--warn")
    assert "consent withdrawn by the patient" in notice.text
    assert "No session can be recorded, even with a reason" in notice.text
    assert "give your reason" not in notice.text
    assert page.find_all("textarea", name="override_reason") == []
    assert page.find_all("input", name="override_reason") == []
    data = record_form(doctor_client, user, override_reason=REASON)
    response = doctor_client.post(sessions_url(user), data=data)
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    error, = doc.find_all("p", id="day-error")
    assert "withdrew their consent to treatment" in error.text
    assert doc.find_all("textarea", name="override_reason") == []
    assert len(sessions_of(user)) == 1 and _overrides() == 0


def test_a_correction_into_the_withdrawal_is_refused_by_the_date(app, doctor_client):
    _user, session = _withdrawn()
    moment = services.to_clinic(clock.now() - timedelta(minutes=30))
    response = doctor_client.post(f"/clinic/sessions/{session.public_id}/correct", data={
        "day": moment.date().isoformat(), "time": moment.strftime("%H:%M"),
        "regions": [REGION], "nprs_before": "", "notes": "Moved.",
        "reason": "The time was typed wrong.", "override_reason": REASON})
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="day-error")
    assert "had withdrawn their consent to treatment" in error.text
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).corrections == []


def test_signed_again_the_form_asks_for_the_discussion_and_no_reason(app, doctor_client):
    user, _session = _withdrawn()
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    clock.advance(minutes=5)
    page = parse(doctor_client.get(sessions_url(user)).get_data(as_text=True))
    notice, = page.find_all("div", class_="notice notice--warn")
    assert "consent signed again after a withdrawal" in notice.text
    assert "until the new consent discussion is recorded" in notice.text
    assert any((link.attrs.get("href") or "").endswith("#consent-discussion")
               for link in page.find_all("a"))
    assert page.find_all("textarea", name="override_reason") == []
    response = doctor_client.post(sessions_url(user),
                                  data=record_form(doctor_client, user, override_reason=REASON))
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="day-error")
    assert "until the new consent discussion is recorded" in error.text
    assert len(sessions_of(user)) == 1 and _overrides() == 0


def test_a_session_whose_rediscussion_was_overridden_before_keeps_its_notes_correctable(
        app, doctor):
    """Recorded with "consent_discussion" overridden after the patient signed again, before
    that was told apart: its notes stay correctable at the same time."""
    user, _session = _withdrawn()
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    clock.advance(minutes=5)
    treated_at = clock.now().replace(second=0, microsecond=0)
    old = _recorded_before_the_fix(user, doctor, treated_at, ["consent_discussion"])
    clock.advance(minutes=5)
    _correct_notes(old, doctor, treated_at)
    assert old.notes == "Upper trapezius too."
