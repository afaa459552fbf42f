"""A closed account's address (SPEC 11.1): registering with it, or asking for a new
password, is told once a day at most that the account is closed; every attempt is still in
the audit trail. Registering is limited per account as signing in is (SPEC 1.6), whatever
the visitor's IP."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Patient, User
from portal.rights import closure
from tests.auth.helpers import outbox
from tests.auth.test_registration import FORM, registration_open  # noqa: F401
from tests.factories import make_patient


def _closed(email: str) -> User:
    user = make_patient(email=email)
    closure.close(db.session.get(Patient, user.patient.id))
    return db.session.get(User, user.id)


def _actions(email: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject == email).order_by(AuditEvent.id)))


def test_a_closed_account_is_told_once_a_day_however_often_it_is_tried(registration_open):
    visitor = registration_open
    user = _closed("shut@example.org")
    for _ in range(2):
        response = visitor.post("/auth/register", data={**FORM, "email": "Shut@Example.org"})
        assert response.status_code == 200
        assert visitor.post("/auth/reset", data={"email": user.email}).status_code == 200
    assert len(outbox(user.email, "account_closed")) == 1
    tried = _actions(user.email)
    assert tried.count("registration.closed_account") == 2
    assert tried.count("password.reset_requested_closed") == 2
    # A day later, the next attempt is told again.
    clock.advance(hours=23, minutes=59)
    visitor.post("/auth/reset", data={"email": user.email})
    assert len(outbox(user.email, "account_closed")) == 1
    clock.advance(minutes=2)
    visitor.post("/auth/reset", data={"email": user.email})
    assert len(outbox(user.email, "account_closed")) == 2
    # Another closed address is told its own.
    other = _closed("gone@example.org")
    visitor.post("/auth/reset", data={"email": other.email})
    assert len(outbox(other.email, "account_closed")) == 1


@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute"}],
                         ids=["3-per-account"])
def test_registering_is_rate_limited_per_account(registration_open):
    visitor = registration_open
    _closed("shut@example.org")
    for n in range(3):
        response = visitor.post("/auth/register", data={**FORM, "email": "shut@example.org"},
                                environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"})
        assert response.status_code == 200
    response = visitor.post("/auth/register", data={**FORM, "email": "SHUT@example.org"},
                            environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    # Another address from the same IP is not limited.
    assert visitor.post("/auth/register", data=FORM,
                        environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
