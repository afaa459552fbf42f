"""The audit log (SPEC 7.1): written in the caller's transaction, hash-chained so that an
altered or removed row is found, refused UPDATE and DELETE by the database itself, and fed
by every sign-in event."""
from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import exc, func, select, text

from portal import audit, clock, crypto
from portal.models import AuditEvent, OutboxMessage, User
from tests.factories import PASSWORD, make_patient, make_practitioner

NEW_PASSWORD = "a brand new passphrase 2026"


def _events(db, action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))


def _actions(db) -> list[str]:
    return [e.action for e in _events(db)]


def _dialect(db) -> str:
    return db.session.get_bind().dialect.name


@pytest.fixture
def tamper(db):
    """Lift the append-only triggers, as an attacker with database access could, and put
    them back afterwards (the PostgreSQL test database is shared by the whole run)."""
    db.session.rollback()
    if _dialect(db) == "postgresql":
        db.session.execute(text(
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(text("DROP TRIGGER audit_events_no_delete"))
    db.session.commit()
    yield
    db.session.rollback()
    if _dialect(db) == "postgresql":
        db.session.execute(text(
            "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
        db.session.commit()


def _write_several(db, n: int = 5) -> list[int]:
    patient = make_patient()
    ids = []
    for i in range(n):
        event = audit.write(f"test.event{i}", patient=patient.patient, actor=patient,
                            subject=patient.email, detail={"i": i})
        db.session.commit()
        ids.append(event.id)
    return ids


# --- transaction ----------------------------------------------------------------------

def test_write_is_part_of_the_callers_transaction(db):
    first = audit.write("test.kept")
    db.session.commit()
    audit.write("test.rolled_back", subject="gone")
    db.session.rollback()
    assert _actions(db) == ["test.kept"]

    second = audit.write("test.after_rollback")
    db.session.commit()
    events = _events(db)
    assert [e.action for e in events] == ["test.kept", "test.after_rollback"]
    # The rolled-back event left no gap in the chain.
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == first.hash == events[0].hash
    assert second.hash == events[1].hash
    assert audit.verify_chain().ok


def test_event_records_actor_patient_time_and_no_ip_outside_requests(db):
    patient = make_patient()
    before = clock.now()
    event = audit.write("record.viewed", patient=patient.patient, actor=patient)
    db.session.commit()
    [stored] = _events(db)
    assert stored.id == event.id
    assert stored.actor_id == patient.id and stored.actor_email == patient.email
    assert stored.patient_id == patient.patient.id
    assert before <= stored.created_at <= clock.now()
    assert stored.ip is None
    assert re.fullmatch(r"[0-9a-f]{64}", stored.hash)


# --- the chain ------------------------------------------------------------------------

def test_chain_verifies_with_events_from_code_and_from_requests(client, auth, db):
    ids = _write_several(db, 3)
    patient = make_patient()
    auth.login(patient, password="not the right password")
    assert auth.login(patient).status_code == 303
    assert auth.logout().status_code == 303
    db.session.rollback()
    audit.write("test.last")
    db.session.commit()

    actions = _actions(db)
    assert actions[:3] == ["test.event0", "test.event1", "test.event2"]
    assert actions[3:] == ["login.failed", "login.succeeded", "logout", "test.last"]
    report = audit.verify_chain()
    assert report.ok and report.checked == len(actions) and report.first_bad_id is None
    assert ids == [e.id for e in _events(db)[:3]]


def test_verify_chain_of_an_empty_log(db):
    report = audit.verify_chain()
    assert report.ok and report.checked == 0


@pytest.mark.parametrize("column,value", [
    ("subject", "someone.else@example.org"),
    ("action", "test.harmless"),
    ("actor_id", None),
    ("ip", "10.0.0.1"),
    ("detail", '{"i": 99}'),
    ("created_at", "shift"),
])
def test_altering_a_row_is_detected_at_that_row(db, tamper, column, value):
    ids = _write_several(db, 5)
    assert audit.verify_chain().ok
    target = ids[2]
    if column == "created_at":
        event = db.session.get(AuditEvent, target)
        value = event.created_at.replace(year=event.created_at.year - 1)
        db.session.rollback()
        # Through the ORM so that the column type stores it the way it stores any time.
        db.session.execute(AuditEvent.__table__.update()
                           .where(AuditEvent.id == target).values(created_at=value))
    else:
        db.session.execute(text(f"UPDATE audit_events SET {column} = :v WHERE id = :id"),
                           {"v": value, "id": target})
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok
    assert report.first_bad_id == target
    assert report.checked == 2  # the two events before it are still good


def test_rehashing_an_altered_row_is_detected_at_the_next_row(db, tamper):
    """An attacker who also recomputes the altered row's own hash breaks the link to the
    row after it."""
    ids = _write_several(db, 5)
    event = db.session.get(AuditEvent, ids[1])
    event.subject = "covered@example.org"
    forged = audit._digest(event)
    db.session.rollback()
    db.session.execute(text("UPDATE audit_events SET subject = :s, hash = :h WHERE id = :id"),
                       {"s": "covered@example.org", "h": forged, "id": ids[1]})
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and report.first_bad_id == ids[2]


def test_deleting_a_middle_row_is_detected(db, tamper):
    ids = _write_several(db, 5)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[2]})
    db.session.commit()
    assert len(_events(db)) == 4
    report = audit.verify_chain()
    assert not report.ok and report.first_bad_id == ids[3]


def test_deleting_the_newest_rows_is_not_a_break_in_the_chain(db, tamper):
    """What a chain alone cannot see (hence the triggers): truncating its end."""
    ids = _write_several(db, 3)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[-1]})
    db.session.commit()
    assert audit.verify_chain().ok


# --- the database refuses changes -----------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET subject = 'x' WHERE id = :id",
    "UPDATE audit_events SET hash = prev_hash",
    "DELETE FROM audit_events WHERE id = :id",
    "DELETE FROM audit_events",
])
def test_database_refuses_update_and_delete(db, statement):
    ids = _write_several(db, 2)
    with pytest.raises(exc.DBAPIError, match="append-only"):
        db.session.execute(text(statement), {"id": ids[0]})
        db.session.flush()
    db.session.rollback()
    assert [e.id for e in _events(db)] == ids
    assert audit.verify_chain().ok


def test_orm_changes_are_refused_too(db):
    [first] = _write_several(db, 1)
    event = db.session.get(AuditEvent, first)
    event.subject = "changed@example.org"
    with pytest.raises(exc.DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, first))
    with pytest.raises(exc.DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert len(_events(db)) == 1 and audit.verify_chain().ok


# --- sign-in events, through real requests --------------------------------------------

def _only(db, action: str) -> AuditEvent:
    events = _events(db, action)
    assert len(events) == 1, [e.action for e in _events(db)]
    return events[0]


def test_login_success_failure_and_logout_are_recorded(client, auth, db):
    patient = make_patient()
    auth.login(patient, password="wrong password, nearly")
    auth.login("nobody@example.org", password="whatever it is here")
    assert auth.login(patient).status_code == 303
    assert auth.logout().status_code == 303

    failed = _events(db, "login.failed")
    assert [(e.subject, e.actor_id, e.ip) for e in failed] == [
        (patient.email, None, "127.0.0.1"), ("nobody@example.org", None, "127.0.0.1")]
    assert '"bad_password"' in failed[0].detail and '"unknown_account"' in failed[1].detail
    succeeded = _only(db, "login.succeeded")
    assert (succeeded.actor_id, succeeded.subject, succeeded.ip) == (
        patient.id, patient.email, "127.0.0.1")
    assert '"password"' in succeeded.detail
    logout = _only(db, "logout")
    assert logout.actor_id == patient.id and logout.id > succeeded.id
    # Passwords, right or wrong, never reach the log.
    everything = " ".join(str(e.detail) + str(e.subject) for e in _events(db))
    assert "wrong password" not in everything and PASSWORD not in everything
    assert audit.verify_chain().ok


def test_lockout_is_recorded(client, auth, app, db):
    patient = make_patient()
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        auth.login(patient, password="wrong password, again")
    locked = _only(db, "login.locked")
    assert locked.actor_id == patient.id and locked.ip == "127.0.0.1"
    assert len(_events(db, "login.failed")) == app.config["LOCKOUT_THRESHOLD"]
    # While locked even the right password is refused, and that is recorded too.
    response = auth.login(patient)
    assert response.status_code == 422
    assert _only(db, "login.refused_locked").subject == patient.email
    assert _events(db, "login.succeeded") == []
    assert audit.verify_chain().ok


def test_mfa_enrolment_is_recorded(client, auth, db):
    doctor = make_practitioner(mfa=False)
    response = auth.login(doctor)
    assert response.status_code == 303 and response.location.endswith("/auth/mfa/setup")
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    code = pyotp.TOTP(secret).at(clock.now())
    response = client.post("/auth/mfa/setup", data={"code": code})
    assert response.status_code == 200 and "recovery" in response.get_data(as_text=True).lower()
    enrolled = _only(db, "mfa.enrolled")
    assert enrolled.actor_id == doctor.id and enrolled.ip == "127.0.0.1"
    succeeded = _only(db, "login.succeeded")
    assert '"totp_enrolment"' in succeeded.detail and succeeded.id > enrolled.id
    assert audit.verify_chain().ok


def test_invitation_is_recorded(client, auth, db):
    doctor = make_practitioner()
    auth.login(doctor)
    response = client.post("/clinic/invitations",
                           data={"name": "Ivy Invited", "email": "ivy@example.org"})
    assert response.status_code == 303
    sent = _only(db, "invitation.sent")
    invited = db.session.scalar(select(User).where(User.email == "ivy@example.org"))
    assert sent.actor_id == doctor.id and sent.subject == "ivy@example.org"
    assert sent.patient_id == invited.patient.id and sent.ip == "127.0.0.1"
    # The event and the e-mail exist together (one transaction).
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert audit.verify_chain().ok


def test_password_reset_request_and_reset_are_recorded(client, db):
    patient = make_patient()
    response = client.post("/auth/reset", data={"email": patient.email})
    assert response.status_code == 200
    requested = _only(db, "password.reset_requested")
    assert requested.actor_id == patient.id and requested.ip == "127.0.0.1"

    # An unknown address gets the same page and its own event, naming no account.
    client.post("/auth/reset", data={"email": "ghost@example.org"})
    unknown = _only(db, "password.reset_requested_unknown")
    assert unknown.actor_id is None and unknown.subject == "ghost@example.org"

    message = db.session.scalar(select(OutboxMessage))
    token = re.search(r"/auth/reset/([A-Za-z0-9_-]+)", message.body_text).group(1)
    response = client.post(f"/auth/reset/{token}",
                           data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    reset = _only(db, "password.reset")
    assert reset.actor_id == patient.id and reset.subject == patient.email
    assert reset.ip == "127.0.0.1"
    everything = " ".join(str(e.detail) + str(e.subject) for e in _events(db))
    assert token not in everything and NEW_PASSWORD not in everything
    assert crypto.token_hash(token) not in everything
    assert audit.verify_chain().ok
