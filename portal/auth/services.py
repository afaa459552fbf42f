"""Account rules: invitations, sign-in, lockout, second factor, resets (SPEC 1).

Functions here take plain values, change the database and commit; views hold the request.
"""
from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from flask import current_app, render_template
from sqlalchemy import func, select, update

from portal import audit, clock, crypto, mail, passwords
from portal.auth.errors import AccountError
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.links import absolute_url
from portal.models import AccountToken, AuditEvent, Patient, RecoveryCode, User

LOCKOUT_BASE = timedelta(minutes=1)
LOCKOUT_MAX = timedelta(hours=1)
# How far back failed sign-ins with an address that has no account are counted.
UNKNOWN_FAILURES_WINDOW = timedelta(hours=24)
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


# --- tokens ---------------------------------------------------------------------------

def _issue_token(user: User, purpose: str, ttl: timedelta, created_by: User | None) -> str:
    # A new link makes older unused links of the same kind useless.
    db.session.execute(update(AccountToken)
                       .where(AccountToken.user_id == user.id,
                              AccountToken.purpose == purpose,
                              AccountToken.used_at.is_(None))
                       .values(used_at=clock.now()))
    token = crypto.new_token()
    db.session.add(AccountToken(user=user, purpose=purpose, token_hash=crypto.token_hash(token),
                                created_at=clock.now(), expires_at=clock.now() + ttl,
                                created_by=created_by))
    return token


def find_token(token: str, purpose: str) -> AccountToken | None:
    """A valid, unused, unexpired token of ``purpose``, or None."""
    if not token or len(token) > 128:
        return None
    row = db.session.scalar(select(AccountToken)
                            .where(AccountToken.token_hash == crypto.token_hash(token),
                                   AccountToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= clock.now():
        return None
    if not row.user.active:
        return None
    return row


# --- invitations (SPEC 1.2) -----------------------------------------------------------

def invite(inviter: User, email: str, name: str, role: str) -> User:
    """Create (or re-invite) an account and e-mail a single-use link valid 7 days."""
    email = normalise_email(email)
    if role in ("practitioner", "admin") and not inviter.is_admin:
        raise AccountError("not_allowed")
    user = user_by_email(email)
    if user is not None:
        if user.has_password:
            raise AccountError("exists")
        if user.role != role:
            raise AccountError("exists")
        user.name = name.strip()
        action = "invitation.resent"
    else:
        user = User(email=email, name=name.strip(), role=role, invited_by=inviter,
                    created_at=clock.now())
        db.session.add(user)
        if role == "patient":
            db.session.add(Patient(user=user, status="invited",
                                   practitioner=inviter if inviter.is_staff else None,
                                   created_at=clock.now(), last_activity_at=clock.now()))
        action = "invitation.sent"
    db.session.flush()
    token = _issue_token(user, "invite", current_app.config["INVITATION_TTL"], inviter)
    mail.queue("invitation", user.email, user.locale or inviter.locale,
               name=user.name, link=absolute_url("auth.accept_invite", token=token),
               role=role, days=current_app.config["INVITATION_TTL"].days)
    audit.write(action, actor=inviter, patient=user.patient if role == "patient" else None,
                subject=user.email, detail={"role": role})
    db.session.commit()
    return user


def resend_invitation(inviter: User, user: User) -> None:
    if user.has_password:
        raise AccountError("exists")
    invite(inviter, user.email, user.name, user.role)


def pending_invitations(role: str | None = None, limit: int = 50) -> list[AccountToken]:
    """Invitations not yet accepted, newest first (expired ones included: they can be resent)."""
    stmt = (select(AccountToken).join(AccountToken.user)
            .where(AccountToken.purpose == "invite", AccountToken.used_at.is_(None),
                   User.password_hash.is_(None), User.active.is_(True))
            .order_by(AccountToken.created_at.desc(), AccountToken.id.desc()).limit(limit))
    if role == "staff":
        stmt = stmt.where(User.role.in_(("practitioner", "admin")))
    elif role:
        stmt = stmt.where(User.role == role)
    return list(db.session.scalars(stmt))


def accept_invitation(row: AccountToken, password: str) -> User:
    user = row.user
    now = clock.now()
    row.used_at = now
    user.password_hash = passwords.hash_password(password)
    user.email_confirmed_at = user.email_confirmed_at or now
    if user.patient is not None and user.patient.status == "invited":
        user.patient.status = "intake_in_progress"
        user.patient.last_activity_at = now
    audit.write("invitation.accepted", actor=user, patient=user.patient, subject=user.email)
    db.session.commit()
    return user


# --- self-registration ----------------------------------------------------------------

def register_patient(name: str, email: str, password: str, locale: str | None) -> None:
    """Self-registration (off by default). The answer is the same whether or not the
    address is known; a known address gets a note instead of a second account."""
    if not current_settings().self_registration:
        raise AccountError("closed")
    existing = user_by_email(email)
    if existing is not None:
        passwords.hash_password(password)  # the same work as a new account: no timing tell
        mail.queue("register_existing", existing.email, existing.locale or locale,
                   name=existing.name, link=absolute_url("auth.login"),
                   reset_link=absolute_url("auth.reset_request"))
        audit.write("registration.duplicate", subject=existing.email)
        db.session.commit()
        return
    user = User(email=normalise_email(email), name=name.strip(), role="patient",
                password_hash=passwords.hash_password(password), locale=locale,
                created_at=clock.now())
    db.session.add(user)
    db.session.add(Patient(user=user, status="intake_in_progress", created_at=clock.now(),
                           last_activity_at=clock.now()))
    db.session.flush()
    token = _issue_token(user, "confirm", current_app.config["CONFIRM_TTL"], None)
    mail.queue("confirm_email", user.email, locale, name=user.name,
               link=absolute_url("auth.confirm_email", token=token))
    audit.write("registration.created", actor=user, patient=user.patient, subject=user.email)
    db.session.commit()


def confirm_email(row: AccountToken) -> User:
    row.used_at = clock.now()
    row.user.email_confirmed_at = clock.now()
    audit.write("registration.confirmed", actor=row.user, patient=row.user.patient,
                subject=row.user.email)
    db.session.commit()
    return row.user


def resend_confirmation(user: User) -> None:
    token = _issue_token(user, "confirm", current_app.config["CONFIRM_TTL"], None)
    mail.queue("confirm_email", user.email, user.locale, name=user.name,
               link=absolute_url("auth.confirm_email", token=token))
    db.session.commit()


# --- sign-in (SPEC 1.3, 1.6) ----------------------------------------------------------

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


def _locked_error(delay: timedelta) -> AccountError:
    return AccountError("locked", minutes=max(1, int(delay.total_seconds() // 60) + 1))


def record_failure(user: User | None, email: str, reason: str) -> None:
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= current_app.config["LOCKOUT_THRESHOLD"]:
            user.locked_until = clock.now() + _lock_delay(user.failed_logins)
            audit.write("login.locked", actor=user, subject=user.email,
                        detail={"failures": user.failed_logins})
    audit.write("login.failed", actor=None, subject=normalise_email(email),
                detail={"reason": reason})
    db.session.commit()


def check_password(email: str, password: str) -> SignIn:
    """First factor. Raises AccountError('invalid' | 'locked' | 'unconfirmed')."""
    user = user_by_email(email)
    if delay := _paused_for(user, email):
        # Check nothing while locked, not even a right password.
        audit.write("login.refused_locked", subject=normalise_email(email))
        db.session.commit()
        raise _locked_error(delay)
    valid = passwords.verify(user.password_hash if user else None, password)
    if not valid or user is None or not user.active:
        # Only a wrong password counts towards the account's lockout.
        record_failure(user if (user is not None and not valid) else None, email,
                       "bad_password" if user else "unknown_account")
        if delay := _paused_for(user, email):
            raise _locked_error(delay)
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


# --- second factor (SPEC 1.7) ---------------------------------------------------------

def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def start_enrolment(user: User) -> str:
    """A new secret, kept encrypted on the user but not active until a code confirms it."""
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(secret.encode())
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.commit()
    return secret


def enrolment_secret(user: User) -> str | None:
    if user.totp_secret is None or user.mfa_enabled:
        return None
    return crypto.decrypt(user.totp_secret).decode()


def provisioning_uri(user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.email,
                                          issuer_name=current_app.config["TOTP_ISSUER"])


def qr_svg(uri: str, title: str) -> str:
    """The QR code as inline SVG, drawn on the server (no script, no external service)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title=title,
                                                  dark="#000", light="#fff")


def _check_code(user: User, code: str) -> bool:
    """A current code, accepted once: a code's time step must be newer than the last used."""
    code = re.sub(r"\s|-", "", code or "")
    if not re.fullmatch(r"\d{6}", code) or user.totp_secret is None:
        return False
    secret = crypto.decrypt(user.totp_secret).decode()
    totp = _totp(secret)
    step = int(clock.now().timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):  # one step of clock drift either way
        if user.totp_last_step is not None and candidate <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            user.totp_last_step = candidate
            return True
    return False


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Activate the second factor; returns the recovery codes, shown once."""
    if not _check_code(user, code):
        db.session.commit()
        raise AccountError("bad_code")
    user.totp_enabled_at = clock.now()
    codes = _new_recovery_codes(user)
    audit.write("mfa.enrolled", actor=user, subject=user.email)
    db.session.commit()
    return codes


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (code or "").upper())


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id,
                                    code_hash=crypto.token_hash(_normalise_recovery(raw))))
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    audit.write("mfa.recovery_codes_regenerated", actor=user, subject=user.email)
    db.session.commit()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def verify_second_factor(user: User, code: str) -> str:
    """Accepts a TOTP code or an unused recovery code; returns which. Failures count
    towards the same lockout as passwords."""
    if (delay := locked_for(user)):
        raise _locked_error(delay)
    if _check_code(user, code):
        return "totp"
    normalised = _normalise_recovery(code)
    if len(normalised) == 10:
        row = db.session.scalar(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == crypto.token_hash(normalised),
            RecoveryCode.used_at.is_(None)))
        if row is not None:
            row.used_at = clock.now()
            audit.write("mfa.recovery_code_used", actor=user, subject=user.email,
                        detail={"remaining": remaining_recovery_codes(user) - 1})
            return "recovery_code"
    record_failure(user, user.email, "bad_second_factor")
    raise AccountError("bad_code")


def disable_mfa(user: User) -> None:
    if user.is_staff:
        raise AccountError("mfa_required")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    audit.write("mfa.disabled", actor=user, subject=user.email)
    db.session.commit()


# --- passwords (SPEC 1.3) -------------------------------------------------------------

def request_reset(email: str, locale: str | None) -> None:
    """Same answer, and about the same work, whether or not the address has an account."""
    user = user_by_email(email)
    if user is not None and user.active and user.has_password:
        token = _issue_token(user, "reset", current_app.config["RESET_TTL"], None)
        mail.queue("password_reset", user.email, user.locale or locale, name=user.name,
                   link=absolute_url("auth.reset_password", token=token), minutes=60)
        audit.write("password.reset_requested", actor=user, subject=user.email)
    else:
        # Spend what a real request spends (token, hash, template) and send nothing.
        crypto.token_hash(crypto.new_token())
        render_template("email/password_reset.txt", name="", link="", minutes=60,
                        clinic_name="")
        # And the same write to the task queue (a delivery round that finds nothing new).
        mail.deliver_after_commit()
        audit.write("password.reset_requested_unknown", subject=normalise_email(email))
    db.session.commit()


def reset_password(row: AccountToken, password: str) -> User:
    """New password; every session ends; no automatic sign-in (SPEC 1.3)."""
    from portal.security import revoke_all_sessions
    user = row.user
    row.used_at = clock.now()
    user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_all_sessions(user)
    audit.write("password.reset", actor=user, subject=user.email)
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    from portal.security import revoke_all_sessions
    if not passwords.verify(user.password_hash, current):
        raise AccountError("wrong_current")
    user.password_hash = passwords.hash_password(new)
    revoke_all_sessions(user)
    audit.write("password.changed", actor=user, subject=user.email)
    # The caller starts a fresh session for this browser, then commits.


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    db.session.commit()


def deactivate(admin: User, user: User) -> None:
    from portal.security import revoke_all_sessions
    if user.id == admin.id:
        raise AccountError("self")
    user.active = False
    revoke_all_sessions(user)
    audit.write("user.deactivated", actor=admin, subject=user.email,
                patient=user.patient)
    db.session.commit()


def reactivate(admin: User, user: User) -> None:
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    audit.write("user.reactivated", actor=admin, subject=user.email, patient=user.patient)
    db.session.commit()
