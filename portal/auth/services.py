"""Account rules: invitations, self-registration, password resets and changes, and what
an admin changes on an account (SPEC 1). Signing in and its lockout: signin.py; the second
factor: second_factor.py.

Functions here take plain values, change the database and commit; views hold the request.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import func, select, update

from portal import audit, clock, crypto, mail, passwords
from portal.auth.errors import AccountError
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.links import absolute_url
from portal.models import STAFF_ROLES, AccountToken, OutboxMessage, Patient, User


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def closed_at(user: User | None) -> datetime | None:
    """When the patient closed their account (SPEC 11.1; portal/rights/closure.py), or
    None for an account that is not a closed patient's."""
    patient = user.patient if user is not None else None
    return patient.account_closed_at if patient is not None else None


# A closed account is told it is closed at most once in this long, however often its
# address is tried: anyone can type it into the registration or reset form, and the
# clinic's mail must not become a way to flood someone who left. Every attempt is still
# audited.
CLOSED_NOTICE_EVERY = timedelta(hours=24)


def _tell_closed(user: User, locale: str | None, action: str) -> None:
    """Someone registers with, or asks for a new password for, the address of a closed
    account: one e-mail says it is closed and to contact the clinic (no link that signs in,
    no health information), instead of a "check your e-mail" that nothing would follow;
    none when one went out in the last CLOSED_NOTICE_EVERY. The caller commits."""
    told = db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.kind == "account_closed",
        func.lower(OutboxMessage.to_addr) == user.email.lower(),
        OutboxMessage.created_at > clock.now() - CLOSED_NOTICE_EVERY).limit(1))
    if told is None:
        mail.queue("account_closed", user.email, user.locale or locale, name=user.name,
                   closed_at=closed_at(user))
    audit.write(action, patient=user.patient, subject=user.email)


# --- tokens ---------------------------------------------------------------------------

def active_staff() -> list[User]:
    """Every member of staff (practitioners and admins) who has joined and is active: whom
    the clinic's e-mails go to when no one person is meant (the digest, an intake without a
    practitioner, a safety alert)."""
    return list(db.session.scalars(
        select(User).where(User.role.in_(STAFF_ROLES), User.active.is_(True),
                           User.password_hash.is_not(None)).order_by(User.id)))


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

def invite(inviter: User, email: str, name: str, role: str,
           locale: str | None = None) -> User:
    """Create (or re-invite) an account and e-mail a single-use link valid 7 days, in the
    invited person's language: ``locale`` when given (it becomes theirs), else the one they
    have, else the clinic's; never the inviter's."""
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
        user.locale = locale or user.locale
        action = "invitation.resent"
    else:
        user = User(email=email, name=name.strip(), role=role, invited_by=inviter,
                    locale=locale or current_settings().locale, created_at=clock.now())
        db.session.add(user)
        if role == "patient":
            db.session.add(Patient(user=user, status="invited",
                                   practitioner=inviter if inviter.is_staff else None,
                                   created_at=clock.now(), last_activity_at=clock.now()))
        action = "invitation.sent"
    db.session.flush()
    token = _issue_token(user, "invite", current_app.config["INVITATION_TTL"], inviter)
    mail.queue("invitation", user.email, user.locale,
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
    if existing is not None and closed_at(existing) is not None:
        passwords.hash_password(password)  # the same work as a new account: no timing tell
        _tell_closed(existing, locale, "registration.closed_account")
        db.session.commit()
        return
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


# --- passwords (SPEC 1.3) -------------------------------------------------------------

def request_reset(email: str, locale: str | None) -> None:
    """Same answer, and about the same work, whether or not the address has an account."""
    user = user_by_email(email)
    if user is not None and user.active and user.has_password:
        token = _issue_token(user, "reset", current_app.config["RESET_TTL"], None)
        mail.queue("password_reset", user.email, user.locale or locale, name=user.name,
                   link=absolute_url("auth.reset_password", token=token), minutes=60)
        audit.write("password.reset_requested", actor=user, subject=user.email)
    elif user is not None and user.has_password and closed_at(user) is not None:
        crypto.token_hash(crypto.new_token())  # what a real request spends
        _tell_closed(user, locale, "password.reset_requested_closed")
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
    """Raises AccountError('wrong_current' | 'locked_current'): the current password is
    checked as sign-in checks it (counted towards the same pause)."""
    from portal.auth.signin import check_current_password
    from portal.security import revoke_all_sessions
    check_current_password(user, current, "password_change")
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
