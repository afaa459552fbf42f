"""Plain helpers that put people in the database, committed, ready to sign in."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pyotp

from portal import clock, crypto, passwords
from portal.extensions import db
from portal.models import Patient, User

PASSWORD = "lantern kettle orchard forty-seven"  # strong enough for every form
_seq = itertools.count(1)
_HASH: dict[str, str] = {}


def _hash(password: str) -> str:
    # argon2 is slow on purpose; one hash per distinct password keeps the suite fast.
    if password not in _HASH:
        _HASH[password] = passwords.hash_password(password)
    return _HASH[password]


def make_user(role: str = "patient", *, email: str | None = None, name: str | None = None,
              password: str | None = PASSWORD, mfa: bool | None = None,
              locale: str | None = "en", active: bool = True,
              confirmed: bool = True) -> User:
    n = next(_seq)
    user = User(email=email or f"{role}{n}@example.org", name=name or f"{role.title()} {n}",
                role=role, password_hash=_hash(password) if password else None,
                locale=locale, active=active, created_at=clock.now(),
                email_confirmed_at=clock.now() if confirmed else None)
    if mfa is None:
        mfa = role != "patient"
    secret = None
    if mfa:
        secret = pyotp.random_base32()
        user.totp_secret = crypto.encrypt(secret.encode())
        user.totp_enabled_at = clock.now()
    db.session.add(user)
    if role == "patient":
        db.session.add(Patient(user=user, status="intake_in_progress" if password else "invited",
                               created_at=clock.now()))
    db.session.commit()
    user.totp_secret_plain = secret
    return user


def make_patient(**kwargs) -> User:
    return make_user("patient", **kwargs)


def make_practitioner(**kwargs) -> User:
    return make_user("practitioner", **kwargs)


def make_admin(**kwargs) -> User:
    return make_user("admin", **kwargs)


def totp_code(user: User, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(user.totp_secret_plain)
    return totp.at(clock.now().timestamp() + 30 * steps_ahead)


def make_document(patient_user: User, *, kind: str = "clearance", status: str = "pending",
                  content: bytes | None = None, name: str = "clearance.pdf",
                  valid_until=None, reason: str = "Not signed by a physician.",
                  reviewer: User | None = None, letter_date=None):
    """A document uploaded by ``patient_user`` through the real service (encrypted, stored,
    and checked at once as the worker would: ready for review), then reviewed if ``status``
    says so. ``status="checking"`` leaves it waiting for the worker (its task queued);
    ``"refused"`` uploads a file the check refuses. Each call makes a different file."""
    import io

    from flask import current_app

    from portal.demo import samples
    from portal.documents import services as documents

    if status == "refused":
        content = content or b"%PDF-1.7\n" + f"not a PDF {next(_seq)}".encode()
    content = content or samples.pdf([f"Clearance letter {next(_seq)}"])
    doc, = documents.upload(patient_user.patient, patient_user, kind,
                            [documents.Upload(name, io.BytesIO(content))],
                            check_now=status != "checking")
    if status in ("accepted", "rejected"):
        reviewer = reviewer or make_practitioner()
        with current_app.test_request_context():
            if status == "accepted":
                # A clearance's letter two years back unless told: valid for the sessions
                # the tests record (the gate wants the letter on or before their day).
                if letter_date is None and kind == "clearance":
                    letter_date = documents.today() - timedelta(days=730)
                documents.accept(doc, reviewer, valid_until, letter_date)
            else:
                documents.reject(doc, reviewer, reason)
    return doc


def make_follow_up(patient: Patient, *, weeks: int = 6, status: str = "answered",
                   discharged_at=None, due_at=None, answered_at=None, baseline: int | None = 7,
                   improved_at_discharge: bool = True, pain_average: int | None = 3,
                   pgic: int | None = 2, psfs_mean: float | None = None,
                   kept: bool | None = None, sent_at=None):
    """A follow-up after discharge straight into the table (portal/models/followup.py), as
    portal/followups leaves it: ``due_at`` ``weeks`` after ``discharged_at`` (now, by
    default), answered at ``answered_at`` (the due date, by default) when ``status`` is
    "answered", ``kept`` worked out from ``pain_average`` and ``baseline`` by the portal's
    improvement rule unless given."""
    from portal import outcomes
    from portal.models import FollowUp

    discharged_at = discharged_at or clock.now()
    due_at = due_at or discharged_at + timedelta(weeks=weeks)
    answered = status == "answered"
    if answered and kept is None and baseline is not None:
        kept = outcomes.nprs_improved(baseline, pain_average)
    row = FollowUp(patient_id=patient.id, discharged_at=discharged_at, weeks=weeks,
                   due_at=due_at, status=status, baseline=baseline,
                   improved_at_discharge=improved_at_discharge,
                   sent_at=sent_at or (due_at if status in ("sent", "answered") else None),
                   answered_at=(answered_at or due_at) if answered else None,
                   pain_average=pain_average if answered else None,
                   pgic=pgic if answered else None,
                   psfs_mean=psfs_mean if answered else None,
                   kept=kept if answered else None, created_at=discharged_at,
                   token_expires_at=due_at + timedelta(days=28)
                   if status in ("sent", "answered") else None)
    db.session.add(row)
    db.session.commit()
    return row
