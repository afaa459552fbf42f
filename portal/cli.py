"""Commands: ``flask seed-demo``, ``flask create-admin``, ``flask worker`` (the background
worker), and manual runs of its work: ``flask send-mail``, ``flask send-reminders``,
``flask send-digest``, ``flask documents sweep``."""
from __future__ import annotations

import io
import random
from datetime import timedelta
from pathlib import Path

import click
import pyotp
from flask import Flask, current_app
from sqlalchemy import select

from portal import audit, clock, crypto, mail, passwords
from portal.extensions import db
from portal.models import AccountToken, Patient, User

DEMO_PASSWORD = "demo-password-123"
# The named demo patients (patient@example.com, patient01@example.com, ...).
DEMO_PATIENTS = 40

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


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(send_mail)
    app.cli.add_command(send_reminders)
    app.cli.add_command(send_digest)
    app.cli.add_command(documents_group)
    app.cli.add_command(worker)


@click.command("seed-demo")
@click.option("--password", default=DEMO_PASSWORD, show_default=True,
              help="The one password every demo account shares.")
@click.option("--patients", default=0, show_default=True, type=click.IntRange(min=0),
              help="Generated patients to add to the demo clinic, in every status, with "
                   "intakes, clearances, sessions and ratings (for trying the portal at "
                   "scale). They cannot sign in. Each run adds this many more.")
@click.option("--seed", default=20261124, show_default=True,
              help="Random seed of the generated patients (the same seed gives the same "
                   "patients).")
def seed_demo(password: str, patients: int, seed: int) -> None:
    """Create a believable demo clinic; safe to run again (it keeps what exists). Refused
    in production: its accounts share a password printed in the README."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException(
            "seed-demo refuses to run with PORTAL_ENV=production: the demo accounts share a "
            "public password. Create the first admin with `flask create-admin`.")
    if passwords.problem(password):
        raise click.BadParameter("choose at least 12 characters, not a common password",
                                 param_hint="--password")
    if any(c.isspace() for c in password):
        # demo-accounts.txt separates its fields with spaces (SPEC 9).
        raise click.BadParameter("no spaces, so that demo-accounts.txt stays one account "
                                 "per line of four fields", param_hint="--password")
    rng = random.Random(20261124)
    password_hash = passwords.hash_password(password)
    lines: list[str] = []
    staff: dict[str, User] = {}

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
    for email, _name, role in DEMO_STAFF:
        secret = crypto.decrypt(staff[email].totp_secret).decode()
        lines.append(f"{email} {password} {role} {secret}")

    practitioners = [staff["dr.lee@example.com"], staff["dr.tremblay@example.com"]]
    main_patient = _demo_patient("patient@example.com", "Pat Morgan", practitioners[0],
                                 "intake_in_progress", password_hash)
    lines.append(f"{main_patient.user.email} {password} patient -")

    for i in range(DEMO_PATIENTS - 1):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + 3) % len(LAST)]
        email = f"patient{i + 1:02d}@example.com"
        # About one in five has not accepted the invitation yet.
        state = "invited" if i % 5 == 4 else "intake_in_progress"
        patient = _demo_patient(email, f"{first} {last}", practitioners[i % 2], state,
                                password_hash if state != "invited" else None, rng)
        if state != "invited":
            lines.append(f"{patient.user.email} {password} patient -")
    db.session.commit()
    _demo_documents(practitioners)
    # Intakes (SPEC 9): the demo patient half-way, others sent with and without flags.
    from portal.intake import demo as intake_demo
    intake_demo.seed(random.Random(2026))
    # Treatment (SPEC 9): courses of sessions improving, flat and worsening.
    from portal.treatment import demo as treatment_demo
    treatment_demo.seed(random.Random(4), practitioners)

    out = Path(current_app.instance_path) / "demo-accounts.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    click.echo(f"Demo clinic ready. Every account's password: {password}")
    for email, _name, role in DEMO_STAFF:
        secret = crypto.decrypt(staff[email].totp_secret).decode()
        click.echo(f"  {role:<12} {email:<28} TOTP secret {secret}")
    click.echo(f"  patient      patient@example.com          (and {DEMO_PATIENTS - 1} more)")
    click.echo(f"Accounts written to {out}")
    if patients:
        _generate(patients, seed, practitioners)


def _generate(count: int, seed: int, practitioners: list[User]) -> None:
    from portal import bulk_demo

    def progress(done: int, total: int) -> None:
        if done == total or done % (bulk_demo.BATCH * 10) == 0:
            click.echo(f"  generated {done}/{total} patients")

    report = bulk_demo.generate(count, seed, practitioners, progress)
    last = report.first_number + report.patients - 1
    click.echo(f"Generated patients p{report.first_number:07d} to p{last:07d} "
               f"(@{bulk_demo.DOMAIN}): {report.intakes} intakes, {report.documents} "
               f"clearance letters, {report.sessions} sessions, {report.ratings} ratings. "
               "They cannot sign in.")


def _demo_patient(email: str, name: str, practitioner: User, state: str,
                  password_hash: str | None, rng: random.Random | None = None) -> Patient:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        if password_hash and user.password_hash:
            user.password_hash = password_hash
        return user.patient
    joined = clock.now() - timedelta(days=(rng.randint(1, 60) if rng else 3))
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


# Clearances in every state (SPEC 9): patient number -> (what, days since upload).
DEMO_CLEARANCES = {2: ("pending", 2), 3: ("accepted", 20), 4: ("rejected", 9),
                   6: ("expired", 400), 7: ("replaced", 12), 8: ("pending_photo", 1)}


def _demo_documents(practitioners: list[User]) -> None:
    """Clearance letters (small real PDFs and photos made in code) for a few demo patients;
    a patient who already has documents is left alone, so running seed-demo again adds
    nothing."""
    from portal.documents import samples
    from portal.documents import services as documents
    from portal.models import Document

    today = documents.today()
    for number, (state, age) in DEMO_CLEARANCES.items():
        user = db.session.scalar(select(User).where(User.email == f"patient{number:02d}@example.com"))
        if user is None or user.patient is None or not user.has_password or \
                db.session.scalar(select(Document.id).where(Document.patient_id == user.patient.id)
                                  .limit(1)) is not None:
            continue
        patient, reviewer = user.patient, practitioners[number % 2]
        lines = samples.clearance_lines(user.name)
        if state == "pending_photo":
            files = [("IMG_2041.png", samples.png(lines))]
        else:
            files = [(f"clearance-{user.name.split()[-1].lower()}.pdf", samples.pdf(lines))]
        if state == "replaced":
            old, = documents.upload(patient, user, "clearance",
                                    [documents.Upload("clearance-old.pdf", io.BytesIO(samples.pdf(
                                        ["Referral to physiotherapy", user.name])))])
            _review(old, reviewer, "rejected", age + 3, reason=_demo_reason())
        doc, = documents.upload(patient, user, "clearance",
                                [documents.Upload(name, io.BytesIO(data)) for name, data in files])
        doc.created_at = clock.now() - timedelta(days=age)
        if state == "accepted":
            _review(doc, reviewer, "accepted", age - 1, valid_until=today + timedelta(days=180))
        elif state == "rejected":
            _review(doc, reviewer, "rejected", age - 1, reason=_demo_reason())
        elif state == "expired":
            _review(doc, reviewer, "accepted", age - 1, valid_until=today - timedelta(days=30))
        documents.sync_status(patient)
        db.session.commit()


def _demo_reason() -> str:
    return ("This letter is a referral, not a clearance. Please ask your physician to write "
            "that they examined you and that IMS may proceed.")


def _review(doc, reviewer: User, status: str, days_ago: int, valid_until=None,
            reason: str | None = None) -> None:
    doc.status = status
    doc.reviewed_by = reviewer
    doc.reviewed_at = clock.now() - timedelta(days=max(days_ago, 0))
    doc.valid_until = valid_until
    doc.rejection_reason = reason


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create the first admin of a new deployment (two-step sign-in is set up at first
    sign-in)."""
    email = email.strip().lower()
    reason = passwords.problem(password)
    if reason:
        raise click.BadParameter(f"password refused ({reason.replace('_', ' ')})",
                                 param_hint="--password")
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        raise click.ClickException(f"{email} already has an account")
    user = User(email=email, name=name.strip(), role="admin",
                password_hash=passwords.hash_password(password),
                email_confirmed_at=clock.now(), created_at=clock.now())
    db.session.add(user)
    db.session.flush()
    audit.write("user.created_by_command", actor=None, subject=email, detail={"role": "admin"})
    db.session.commit()
    click.echo(f"Admin {email} created.")


@click.command("worker")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Tasks run at once (threads); default TASK_WORKERS.")
@click.option("--once", is_flag=True,
              help="Run what is queued now, then stop (no schedule).")
def worker(workers: int | None, once: bool) -> None:
    """Run the background worker: mail, upload checks, reminders, the daily digest and the
    storage sweep (SPEC 6.4). Stops after the running tasks on Ctrl-C (SIGINT)."""
    import logging

    from portal import tasks

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        click.echo(f"ran {tasks.run_pending()} tasks")
        return
    # Mail written while no worker ran (the demo, a restart) goes out at once, not at the
    # next minute's tick.
    tasks.enqueue(tasks.deliver_mail)
    tasks.consumer(workers or current_app.config["TASK_WORKERS"]).run()


@click.command("send-mail")
@click.option("--limit", default=500, show_default=True)
def send_mail(limit: int) -> None:
    """Deliver the outbox: due messages now, failures again later (safe from cron)."""
    sent, failed = mail.deliver_due(limit=limit)
    click.echo(f"sent {sent}, failed {failed}")


@click.command("send-digest")
def send_digest() -> None:
    """Queue today's staff digest (counts only) for every active member of staff; each gets
    one a day however often this runs (safe from cron). ``send-mail`` delivers it."""
    from portal.clinic import digest

    report = digest.send_digest()
    click.echo(f"digest queued {report.queued}, already sent today {report.already_sent}")


@click.command("send-reminders")
@click.option("--limit", default=1000, show_default=True)
def send_reminders(limit: int) -> None:
    """Remind patients of session ratings not given after RATING_REMINDER_HOURS, close the
    ratings older than RATING_WINDOW_DAYS, then deliver the outbox. Each reminder goes once
    however often this runs (safe from cron every few minutes)."""
    from portal.treatment import services as treatment

    report = treatment.send_reminders(limit=limit)
    sent, failed = mail.deliver_due(limit=max(limit, 500))
    click.echo(f"reminded {report.reminded}, closed {report.closed}; "
               f"mail sent {sent}, failed {failed}")


@click.group("documents")
def documents_group() -> None:
    """Stored documents: repair after a crash, encrypt again after a key rotation."""


@documents_group.command("sweep")
@click.option("--grace-minutes", default=60, show_default=True,
              help="Leave files younger than this alone (uploads in progress).")
def documents_sweep(grace_minutes: int) -> None:
    """Finish what a stopped process left: move committed files into place, remove files
    that no record refers to (directory storage; safe from cron)."""
    from portal import storage

    counts = storage.sweep_documents(timedelta(minutes=grace_minutes))
    click.echo(", ".join(f"{name} {n}" for name, n in counts.items()))


@documents_group.command("rotate-keys")
def documents_rotate_keys() -> None:
    """Encrypt every stored file again with the first key of ENCRYPTION_KEYS, so that older
    keys can then be retired."""
    from portal import storage
    from portal.models import Document

    store = storage.get_storage()
    done = 0
    for blob_key, preview_key in db.session.execute(select(Document.blob_key,
                                                           Document.preview_key)).all():
        for key in (blob_key, preview_key):
            if key:
                store.rotate(key)
                done += 1
        db.session.commit()
    click.echo(f"{done} stored files encrypted with the newest key")
