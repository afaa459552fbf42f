"""The second factor (SPEC 1.7): an authenticator app's codes (TOTP), each accepted once,
and ten single-use recovery codes for a lost phone. Staff must have one; patients may.
"""
from __future__ import annotations

import hmac
import re
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import select

from portal import audit, clock, crypto
from portal.auth.errors import AccountError
from portal.auth.signin import locked_error, locked_for, record_failure
from portal.extensions import db
from portal.models import RecoveryCode, User

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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
        raise locked_error(delay)
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
