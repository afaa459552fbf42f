"""Commands: ``flask seed-demo``, ``flask create-admin``, ``flask worker`` (the background
worker), and manual runs of its work: ``flask send-mail``, ``flask send-reminders``,
``flask send-digest``, ``flask documents sweep``."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select

from portal import audit, clock, mail, passwords
from portal.assets import build_static_command
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import User

DEMO_PASSWORD = passwords.DEMO_PASSWORD

# Why a password is refused, for the commands (English, as the rest of their output).
_REFUSED = {
    "too_short": f"shorter than {passwords.MIN_LENGTH} characters",
    "too_long": f"longer than {passwords.MAX_LENGTH} characters",
    "demo": "the demo's public password",
    "published": "a published example password",
    "common": "a common password",
    "guessable": "too easy to guess",
}


def _password_refusal(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    weakness = passwords.assess(password, user_inputs)
    if weakness is None:
        return None
    warning = ("it uses the name, the e-mail address or the clinic's name"
               if weakness.warning == passwords.PERSONAL else weakness.warning)
    return (f"password refused: {_REFUSED[weakness.reason]}"
            + (f" ({warning.rstrip('.')})" if warning else ""))


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(send_mail)
    app.cli.add_command(send_reminders)
    app.cli.add_command(send_digest)
    app.cli.add_command(documents_group)
    app.cli.add_command(worker)
    app.cli.add_command(build_static_command)


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
    # The demo's own password is set here and nowhere else; any other must pass the rules.
    if password != DEMO_PASSWORD and (refusal := _password_refusal(password)):
        raise click.BadParameter(refusal, param_hint="--password")
    if any(c.isspace() for c in password):
        # demo-accounts.txt separates its fields with spaces (SPEC 9).
        raise click.BadParameter("no spaces, so that demo-accounts.txt stays one account "
                                 "per line of four fields", param_hint="--password")
    from portal.demo import clinic

    seeded = clinic.seed(password)
    out = Path(current_app.instance_path) / "demo-accounts.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(seeded.lines) + "\n", encoding="utf-8")
    click.echo(f"Demo clinic ready. Every account's password: {password}")
    for email, role, secret in seeded.staff:
        click.echo(f"  {role:<12} {email:<28} TOTP secret {secret}")
    click.echo(f"  patient      patient@example.com          "
               f"(and {clinic.DEMO_PATIENTS - 1} more)")
    click.echo(f"Accounts written to {out}")
    if patients:
        _generate(patients, seed, seeded.practitioners)


def _generate(count: int, seed: int, practitioners: list[User]) -> None:
    from portal.demo import bulk as bulk_demo

    def progress(done: int, total: int) -> None:
        if done == total or done % (bulk_demo.BATCH * 10) == 0:
            click.echo(f"  generated {done}/{total} patients")

    report = bulk_demo.generate(count, seed, practitioners, progress)
    last = report.first_number + report.patients - 1
    click.echo(f"Generated patients p{report.first_number:07d} to p{last:07d} "
               f"(@{bulk_demo.DOMAIN}): {report.intakes} intakes, {report.documents} "
               f"clearance letters, {report.sessions} sessions, {report.ratings} ratings. "
               "They cannot sign in.")


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create the first admin of a new deployment (two-step sign-in is set up at first
    sign-in)."""
    email = email.strip().lower()
    refusal = _password_refusal(password, (name, email, current_settings().name))
    if refusal:
        raise click.BadParameter(refusal, param_hint="--password")
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

    store = storage.get_storage()
    done = 0
    # Every key a record refers to: the checked file and its preview, and the original of
    # an upload still waiting for its check.
    for key in sorted(storage.known_document_keys()):
        store.rotate(key)
        done += 1
        db.session.commit()
    click.echo(f"{done} stored files encrypted with the newest key")
