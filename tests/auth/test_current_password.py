"""SPEC 1.6: a signed-in person's current password (to change it, for new recovery codes, to
turn two-step sign-in off) is checked as sign-in checks it: wrong ones count towards the
same pause, are audited, and while the account is paused not even the right one works."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock, passwords
from portal.models import AuditEvent
from tests.auth.helpers import field_error, fresh, html, sign_in
from tests.factories import PASSWORD, make_patient

NEW_PASSWORD = "violet canoe under the bridge"
PAUSED = "Too many wrong passwords."
WRONG = "Your current password is not correct."


def change_password(client, current: str):
    return client.post("/auth/account/password", data={
        "current": current, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})


def new_recovery_codes(client, current: str):
    return client.post("/auth/account/recovery-codes", data={"current": current})


def turn_mfa_off(client, current: str):
    return client.post("/auth/account/mfa/disable", data={"current": current})


def events(db, action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


@pytest.fixture
def patient(client):
    person = make_patient(mfa=True)
    assert sign_in(client, person).location.endswith("/me/")
    client.get("/auth/account")
    return person


@pytest.mark.parametrize(("form", "purpose", "field"), [
    (change_password, "password_change", "current"),
    (new_recovery_codes, "recovery_codes", "confirm-current"),
    (turn_mfa_off, "mfa_disable", "confirm-current")])
def test_wrong_current_passwords_pause_the_account(app, client, other_client, patient, db,
                                                   form, purpose, field):
    threshold = app.config["LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):
        response = form(client, "not my password")
        assert response.status_code == 422
        assert field_error(html(response), field) == WRONG
    response = form(client, "still not my password")
    assert response.status_code == 422 and PAUSED in field_error(html(response), field)

    # The right password is refused now, and nothing changes.
    response = form(client, PASSWORD)
    assert response.status_code == 422 and PAUSED in field_error(html(response), field)
    patient = fresh(patient)
    assert passwords.verify(patient.password_hash, PASSWORD) and patient.mfa_enabled
    # The pause is the sign-in's: another browser cannot sign in either.
    response = other_client.post("/auth/login", data={"email": patient.email,
                                                      "password": PASSWORD})
    assert response.status_code == 422 and "sign-in is paused" in html(response)

    # Audited: every wrong password, the pause, the refusal while paused.
    assert len(events(db, "password.check_failed")) == threshold
    [locked] = events(db, "login.locked")
    assert locked.actor_id == patient.id and f'"via": "{purpose}"' in locked.detail
    assert len(events(db, "password.check_refused_locked")) == 1

    clock.advance(minutes=2)  # the first pause is one minute, as at sign-in
    response = form(client, PASSWORD)
    assert response.status_code in (200, 303), html(response)
    assert fresh(patient).failed_logins == 0


def test_sign_in_failures_and_current_password_failures_share_one_count(
        app, client, other_client, patient):
    for _ in range(app.config["LOCKOUT_THRESHOLD"] - 1):
        response = other_client.post("/auth/login", data={"email": patient.email,
                                                          "password": "a wrong guess"})
        assert response.status_code == 422
    response = change_password(client, "one more wrong guess")
    assert PAUSED in field_error(html(response), "current")
    assert PAUSED in field_error(html(change_password(client, PASSWORD)), "current")
