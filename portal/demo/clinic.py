"""The named demo clinic of ``flask seed-demo`` (SPEC 9): the admin, two practitioners and
40 patients in every state, with their clearance letters, intakes and treatment courses.
Safe to run again: what exists is kept (passwords are set again).

Each patient's record is dated in clinical order as it is made (issue 14), nothing after
now: joined (patients who accepted their invitation did so 111 to 170 days ago), then the
intake started, the consent signed and the intake sent (portal.demo.intake), then the
clearance letters uploaded and reviewed (below, within the last 100 days), then the
practitioner's consent discussion just before the first session and the sessions, each
rating a day or more after its session (portal.demo.treatment)."""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from flask import current_app
from sqlalchemy import select

from portal import clock, crypto, passwords
from portal.clinic_settings import current_settings
from portal.demo import after_care, samples
from portal.demo import intake as intake_demo
from portal.demo import treatment as treatment_demo
from portal.documents import services as documents
from portal.extensions import db
from portal.models import AccountToken, Document, Patient, User

# The named demo patients (patient@example.com, patient01@example.com, ...).
DEMO_PATIENTS = 40

# How patients reach the demo clinic (issue 15): a fictional address and a 555 number, which
# North American numbering keeps for fiction.
DEMO_PHONE = "604-555-0123"
DEMO_ADDRESS = "1234 Example Street, Vancouver, BC V6K 0A1"

DEMO_STAFF = [
    ("admin@example.com", "Alex Admin", "admin"),
    ("dr.lee@example.com", "Dr. Jordan Lee", "practitioner"),
    ("dr.tremblay@example.com", "Dr. Camille Tremblay", "practitioner"),
]

# Invented names, English and French Canadian, for believable lists.
FIRST = ["Margaret", "Robert", "Linda", "Daniel", "Susan", "Michel", "Isabelle", "Gurpreet",
         "Mei", "Thomas", "Nathalie", "Patrick", "Sophie", "Raj", "Helen", "Luc", "Amira",
         "George", "Chantal", "Wei", "Brenda", "François", "Olivia", "Kenji"]
LAST = ["Anderson", "Bouchard", "Chen", "Dubois", "Evans", "Fortin", "Gill", "Harris",
        "Ito", "Johnson", "Kaur", "Lavoie", "MacDonald", "Nguyen", "Ouellet", "Patel",
        "Roy", "Singh", "Thompson", "Wong", "Gagnon", "Côté", "Morin", "Wilson"]


@dataclass
class Seeded:
    lines: list[str]  # demo-accounts.txt: "email password role totp-secret"
    staff: list[tuple[str, str, str]]  # (email, role, TOTP secret)
    practitioners: list[User]


def seed(password: str) -> Seeded:
    """Create (or refresh) the named clinic with ``password`` for every account; commits."""
    rng = random.Random(20261124)
    password_hash = passwords.hash_password(password)
    lines: list[str] = []
    staff: dict[str, User] = {}
    _identity()

    for email, name, role in DEMO_STAFF:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, role=role, password_hash=password_hash,
                        email_confirmed_at=clock.now(), created_at=clock.now(),
                        locale="fr_CA" if "tremblay" in email else "en")
            secret = pyotp.random_base32()
            user.totp_secret = crypto.encrypt(secret.encode())
            user.totp_enabled_at = clock.now()
            db.session.add(user)
        else:
            user.password_hash = password_hash
        staff[email] = user
    db.session.flush()
    secrets = [(email, role, _totp_secret(staff[email])) for email, _name, role in DEMO_STAFF]
    lines += [f"{email} {password} {role} {secret}" for email, role, secret in secrets]

    practitioners = [staff["dr.lee@example.com"], staff["dr.tremblay@example.com"]]
    main_patient = _patient("patient@example.com", "Pat Morgan", practitioners[0],
                            "intake_in_progress", password_hash)
    lines.append(f"{main_patient.user.email} {password} patient -")

    for i in range(DEMO_PATIENTS - 1):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + 3) % len(LAST)]
        email = f"patient{i + 1:02d}@example.com"
        # About one in five has not accepted the invitation yet.
        state = "invited" if i % 5 == 4 else "intake_in_progress"
        patient = _patient(email, f"{first} {last}", practitioners[i % 2], state,
                           password_hash if state != "invited" else None, rng)
        if state != "invited":
            lines.append(f"{patient.user.email} {password} patient -")
    db.session.commit()
    # Intakes (SPEC 9): the demo patient half-way, others sent with and without flags.
    intake_demo.seed(random.Random(2026))
    # Clearance letters, uploaded after the intake was started.
    _documents(practitioners)
    # Treatment (SPEC 9): courses of sessions improving, flat and worsening.
    treatment_demo.seed(random.Random(4), practitioners)
    # Patients' rights, the registers, retention and follow-ups after discharge (SPEC 11, 12).
    after_care.seed(staff["admin@example.com"], practitioners)

    return Seeded(lines, secrets, practitioners)


def _identity() -> None:
    """The clinic's phone and address, unless an admin has set them already."""
    settings = current_settings()
    settings.phone = settings.phone or DEMO_PHONE
    settings.address = settings.address or DEMO_ADDRESS


def _totp_secret(user: User) -> str:
    assert user.totp_secret is not None  # every demo staff account is created with one
    return crypto.decrypt(user.totp_secret).decode()


def _patient(email: str, name: str, practitioner: User, state: str,
             password_hash: str | None, rng: random.Random | None = None) -> Patient:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        if password_hash and user.password_hash:
            user.password_hash = password_hash
        assert user.patient is not None  # a demo patient's account, made with its record
        return user.patient
    days = rng.randint(1, 60) if rng else 3
    if rng and state != "invited":
        # Joined months ago: room for the intake, the letters and a course of treatment
        # (up to 12 weekly sessions) after it, all in the past.
        days += 110
    joined = clock.now() - timedelta(days=days)
    user = User(email=email, name=name, role="patient", password_hash=password_hash,
                email_confirmed_at=joined if password_hash else None, created_at=joined,
                invited_by=practitioner, locale="fr_CA" if name.split()[-1] in
                {"Bouchard", "Dubois", "Fortin", "Lavoie", "Ouellet", "Roy", "Gagnon",
                 "Côté", "Morin"} else "en")
    patient = Patient(user=user, practitioner=practitioner, status=state, created_at=joined,
                      last_activity_at=joined)
    db.session.add_all([user, patient])
    if state == "invited":
        db.session.flush()
        # The link itself is not recoverable (only its hash is kept); staff can resend.
        db.session.add(AccountToken(user=user, purpose="invite",
                                    token_hash=crypto.token_hash(crypto.new_token()),
                                    created_at=joined, created_by=practitioner,
                                    expires_at=joined + current_app.config["INVITATION_TTL"]))
    return patient


# Clearances in every state (SPEC 9): patient number -> (what, days since upload), all
# after the patient joined (110 days or more ago) and, for the accepted one, before the
# treatment demo's sessions (at most 90 days ago).
DEMO_CLEARANCES = {2: ("pending", 2), 3: ("accepted", 95), 4: ("rejected", 9),
                   6: ("expired", 100), 7: ("replaced", 12), 8: ("pending_photo", 1),
                   9: ("refused", 0)}


def _documents(practitioners: list[User]) -> None:
    """Clearance letters (small real PDFs and photos made in code) for a few demo patients;
    a patient who already has documents is left alone, so running seed-demo again adds
    nothing."""
    today = documents.today()
    for number, (state, age) in DEMO_CLEARANCES.items():
        email = f"patient{number:02d}@example.com"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None or user.patient is None or not user.has_password or \
                db.session.scalar(select(Document.id).where(Document.patient_id == user.patient.id)
                                  .limit(1)) is not None:
            continue
        patient, reviewer = user.patient, practitioners[number % 2]
        lines = samples.clearance_lines(user.name)
        if state == "pending_photo":
            files = [("IMG_2041.png", samples.png(lines))]
        elif state == "refused":
            # A fillable form saved with a script in it: the worker's check refuses it, and
            # the patient's list says why.
            scripted = samples.pdf(lines, catalog_extra=b" /OpenAction 6 0 R", extra_objects=(
                b"<< /S /JavaScript /JS (app.alert(1)) >>",))
            files = [("clearance-form.pdf", scripted)]
        else:
            files = [(f"clearance-{user.name.split()[-1].lower()}.pdf", samples.pdf(lines))]
        if state == "replaced":
            old, = documents.upload(patient, user, "clearance",
                                    [documents.Upload("clearance-old.pdf", io.BytesIO(samples.pdf(
                                        ["Referral to physiotherapy", user.name])))])
            old.created_at = clock.now() - timedelta(days=age + 4)
            _review(old, reviewer, "rejected", age + 3, reason=_reason())
        doc, = documents.upload(patient, user, "clearance",
                                [documents.Upload(name, io.BytesIO(data)) for name, data in files])
        doc.created_at = clock.now() - timedelta(days=age)
        if state == "accepted":
            _review(doc, reviewer, "accepted", age - 1, valid_until=today + timedelta(days=180))
        elif state == "rejected":
            _review(doc, reviewer, "rejected", age - 1, reason=_reason())
        elif state == "expired":
            _review(doc, reviewer, "accepted", age - 1, valid_until=today - timedelta(days=30))
        documents.sync_status(patient)
        db.session.commit()


def _reason() -> str:
    return ("This letter is a referral, not a clearance. Please ask your physician to write "
            "that they examined you and that IMS may proceed.")


def _review(doc, reviewer: User, status: str, days_ago: int, valid_until=None,
            reason: str | None = None) -> None:
    doc.status = status
    doc.reviewed_by = reviewer
    doc.reviewed_at = clock.now() - timedelta(days=max(days_ago, 0))
    doc.valid_until = valid_until
    if status == "accepted":
        # The physician wrote the letter a few days before the patient uploaded it.
        doc.letter_date = (doc.created_at - timedelta(days=4)).date()
    doc.rejection_reason = reason
