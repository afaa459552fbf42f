"""Signing in: the password, the pause after failures, and the record of who came and went
(SPEC 1.3, 1.6).

A wrong password or second-factor code counts against the account (so does a wrong current
password typed by someone signed in: ``check_current_password``), a try with an address
that has no account against the address; after LOCKOUT_THRESHOLD failures either is paused
for a time that doubles with each further failure, up to LOCKOUT_MAX, and the answers never
tell the two apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from portal import audit, clock, passwords
from portal.auth.errors import AccountError, error_text
from portal.auth.services import closed_at, normalise_email, resend_confirmation, user_by_email
from portal.extensions import db
from portal.models import AuditEvent, User

LOCKOUT_BASE = timedelta(minutes=1)
LOCKOUT_MAX = timedelta(hours=1)
# How far back failed sign-ins with an address that has no account are counted.
UNKNOWN_FAILURES_WINDOW = timedelta(hours=24)


@dataclass
class SignIn:
    user: User
    needs_mfa: bool        # has a second factor: ask for a code
    must_enrol_mfa: bool   # staff without one: set it up now


def _lock_delay(failures: int) -> timedelta:
    over = failures - current_app.config["LOCKOUT_THRESHOLD"]
    return min(LOCKOUT_BASE * (2 ** max(over, 0)), LOCKOUT_MAX)


def locked_for(user: User) -> timedelta | None:
    until = user.locked_until
    if until and until > clock.now():
        return until - clock.now()
    return None


def unknown_locked_for(email: str) -> timedelta | None:
    """An address without an account is paused as an account would be, after the same
    number of failures and for the same time, so that the answers never tell whether an
    address has an account (that someone is a patient of the clinic is itself health
    information). Its failures are the ``login.failed`` events of the audit log over
    UNKNOWN_FAILURES_WINDOW, as nothing else is stored about an unknown address."""
    now = clock.now()
    failures, last = db.session.execute(
        select(func.count(), func.max(AuditEvent.created_at))
        .where(AuditEvent.subject == normalise_email(email),
               AuditEvent.action == "login.failed",
               AuditEvent.created_at >= now - UNKNOWN_FAILURES_WINDOW)).one()
    if failures < current_app.config["LOCKOUT_THRESHOLD"]:
        return None
    until = last + _lock_delay(failures)
    return until - now if until > now else None


def _paused_for(user: User | None, email: str) -> timedelta | None:
    return locked_for(user) if user is not None else unknown_locked_for(email)


def locked_error(delay: timedelta, code: str = "locked") -> AccountError:
    return AccountError(code, minutes=max(1, int(delay.total_seconds() // 60) + 1))


def _count_failure(user: User, **detail) -> None:
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["LOCKOUT_THRESHOLD"]:
        user.locked_until = clock.now() + _lock_delay(user.failed_logins)
        audit.write("login.locked", actor=user, subject=user.email,
                    detail={"failures": user.failed_logins, **detail})


def record_failure(user: User | None, email: str, reason: str) -> None:
    if user is not None:
        _count_failure(user)
    audit.write("login.failed", actor=None, subject=normalise_email(email),
                detail={"reason": reason})
    db.session.commit()


def check_current_password(user: User, password: str, purpose: str) -> None:
    """A signed-in person types their password again (to change it, for new recovery codes,
    to turn two-step sign-in off; ``purpose`` says which, for the audit log). A wrong one
    counts towards the same pause as a wrong sign-in, so a session left open is no way
    round it; while the account is paused no password is checked, not even a right one.
    Raises AccountError('wrong_current' | 'locked_current')."""
    if delay := locked_for(user):
        audit.write("password.check_refused_locked", actor=user, subject=user.email,
                    detail={"for": purpose})
        db.session.commit()
        raise locked_error(delay, "locked_current")
    if not passwords.verify(user.password_hash, password):
        _count_failure(user, via=purpose)
        audit.write("password.check_failed", actor=user, subject=user.email,
                    detail={"for": purpose})
        db.session.commit()
        if delay := locked_for(user):
            raise locked_error(delay, "locked_current")
        raise AccountError("wrong_current")
    # The right password, as a sign-in would: the count starts again (the caller commits).
    if user.failed_logins:
        user.failed_logins = 0


def check_field(user: User, field, purpose: str) -> bool:
    """``check_current_password`` on a form's password field: False, with the message by
    the field, when it is wrong or the account is paused."""
    try:
        check_current_password(user, field.data, purpose)
    except AccountError as exc:
        field.errors = [error_text(exc)]
        return False
    return True


def check_password(email: str, password: str) -> SignIn:
    """First factor. Raises AccountError('invalid' | 'locked' | 'unconfirmed' |
    'account_closed')."""
    user = user_by_email(email)
    if delay := _paused_for(user, email):
        # Check nothing while locked, not even a right password.
        audit.write("login.refused_locked", subject=normalise_email(email))
        db.session.commit()
        raise locked_error(delay)
    valid = passwords.verify(user.password_hash if user else None, password)
    if valid and user is not None and (closed := closed_at(user)) is not None:
        # A closed account (SPEC 11.1) says so, and to contact the clinic, only to whoever
        # knows its password: to anyone else it answers as a wrong password, so whether an
        # address has an account still does not show.
        audit.write("login.refused_closed", actor=user, patient=user.patient,
                    subject=user.email)
        db.session.commit()
        raise AccountError("account_closed", date=closed)
    if not valid or user is None or not user.active:
        # Only a wrong password counts towards the account's lockout.
        record_failure(user if (user is not None and not valid) else None, email,
                       "bad_password" if user else "unknown_account")
        if delay := _paused_for(user, email):
            raise locked_error(delay)
        raise AccountError("invalid")
    if user.role == "patient" and user.email_confirmed_at is None:
        resend_confirmation(user)
        raise AccountError("unconfirmed")
    assert user.password_hash is not None  # the password was just verified against it
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        db.session.commit()
    return SignIn(user=user, needs_mfa=user.mfa_enabled,
                  must_enrol_mfa=user.is_staff and not user.mfa_enabled)


def signed_in(user: User, method: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = clock.now()
    audit.write("login.succeeded", actor=user, subject=user.email, detail={"method": method})
    db.session.commit()


def signed_out(user: User) -> None:
    audit.write("logout", actor=user, subject=user.email)
    db.session.commit()
