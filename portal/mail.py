"""E-mail through an outbox (SPEC 6.1, 6.3).

``queue()`` renders a message in the recipient's language and adds it to the caller's
transaction: the message exists exactly when the event that caused it does. Once that
transaction commits, a task asks the worker to deliver it (portal.background); no web request
ever talks to the mail server. Each message is claimed before it is sent (a conditional
UPDATE that moves its next attempt past a lease), so two workers never send one message
twice, and a worker killed mid-send leaves it due again when the lease ends. A failed
attempt is retried later with exponential backoff; after MAIL_MAX_ATTEMPTS the message is
marked failed and shown to admins, who can send it again (``resend``).

Messages never carry health information: only "there is something for you in the portal"
and a link.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, cast

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import CursorResult, delete, select, update

from portal import background, clock
from portal.extensions import db
from portal.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)

# The one kind of message a closed account's address still gets (SPEC 11.1): someone (the
# patient, we hope) registers with it again or asks for a new password, and is told that the
# account is closed and to contact the clinic; no link that signs in. Without it both would
# answer "check your e-mail" and nothing would ever arrive.
TO_CLOSED_ACCOUNTS = frozenset({"account_closed"})


def queue(kind: str, to_addr: str, locale: str | None, deliver_at: datetime | None = None,
          **context) -> OutboxMessage | None:
    """Render templates/email/<kind>.{subject,txt,html} in ``locale`` (the recipient's; the
    clinic's when theirs is not known) and add to the outbox, to be sent now or, with
    ``deliver_at``, not before then. Nothing (None) for the address of a patient who closed
    their account (SPEC 11.1: e-mails stop), whichever feature asks, but the notice that it
    is closed (TO_CLOSED_ACCOUNTS)."""
    if kind not in TO_CLOSED_ACCOUNTS and closed_account(to_addr):
        log.info("mail %s not queued: the recipient closed their account", kind)
        return None
    locale = locale or _clinic_locale()
    with force_locale(locale):
        context.setdefault("clinic_name", _clinic_name())
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
        body_text = render_template(f"email/{kind}.txt", **context)
        body_html = render_template(f"email/{kind}.html", **context)
    message = OutboxMessage(kind=kind, to_addr=to_addr, subject=subject,
                            body_text=body_text, body_html=body_html,
                            next_attempt_at=max(deliver_at or clock.now(), clock.now()))
    db.session.add(message)
    deliver_after_commit()
    return message


def closed_account(to_addr: str) -> bool:
    """Whether ``to_addr`` is the address of a patient who closed their account."""
    from portal.models import Patient, User
    return db.session.scalar(
        select(User.id).join(Patient, Patient.user_id == User.id)
        .where(User.email == to_addr.strip().lower(), Patient.account_closed_at.is_not(None))
        .limit(1)) is not None


def drop_pending(to_addr: str) -> int:
    """Take back every message to ``to_addr`` not sent yet (an account closed: SPEC 11.1),
    in the caller's transaction; returns how many. One a worker is sending at this moment
    may still go; ``deliver_due`` drops any other it meets."""
    result = db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.to_addr == to_addr,
                                    OutboxMessage.status == "pending")
        .execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount or 0


def reschedule(kind: str, link: str, at: datetime | None) -> int:
    """A message queued for later (``deliver_at``) and not tried yet, found by its kind and
    the link it carries: moved to ``at``, or taken back when ``at`` is None (what it was
    about changed before it went). Part of the caller's transaction."""
    waiting = (OutboxMessage.kind == kind, OutboxMessage.status == "pending",
               OutboxMessage.attempts == 0,
               OutboxMessage.body_text.contains(link, autoescape=True))
    if at is None:
        result = db.session.execute(delete(OutboxMessage).where(*waiting)
                                    .execution_options(synchronize_session=False))
    else:
        result = db.session.execute(
            update(OutboxMessage).where(*waiting)
            .values(next_attempt_at=max(at, clock.now()))
            .execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount or 0


def deliver_after_commit() -> None:
    """Ask the worker to deliver once the transaction commits (``queue`` does it)."""
    background.after_commit("deliver_mail")


def resend(message: OutboxMessage) -> bool:
    """Give a failed message a new round of attempts, due now (the caller commits and
    audits). False when it is no longer failed (sent again by someone else meanwhile)."""
    claimed = cast(CursorResult[Any], db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=clock.now())
        .execution_options(synchronize_session=False))).rowcount
    if claimed:
        deliver_after_commit()
    db.session.expire(message)
    return bool(claimed)


def _clinic_name() -> str:
    from portal.models import ClinicSettings
    settings = db.session.get(ClinicSettings, 1)
    return settings.name if settings else current_app.config["CLINIC_NAME"]


def _clinic_locale() -> str:
    from portal.models import ClinicSettings
    settings = db.session.get(ClinicSettings, 1)
    return (settings.locale if settings else None) or \
        current_app.config["BABEL_DEFAULT_LOCALE"]


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="ims-portal")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    return email


def _send_smtp(email: EmailMessage) -> None:
    cfg = current_app.config
    timeout = cfg["MAIL_TIMEOUT"]
    if cfg["MAIL_USE_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg["MAIL_SERVER"], cfg["MAIL_PORT"],
                                              timeout=timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=timeout)
    with smtp:
        if cfg["MAIL_USE_TLS"] and not cfg["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(email)


def _send_console(email: EmailMessage, message: OutboxMessage) -> None:
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{message.id:06d}-{message.kind}.eml"
    path.write_bytes(bytes(email))
    print(f"--- e-mail to {message.to_addr}: {message.subject} ({path.name})\n"
          f"{message.body_text}\n---", flush=True)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _lease() -> timedelta:
    """How long a claimed message is left to its worker before another may try it: longer
    than one attempt can take (connect, STARTTLS, login and send, each bounded by
    MAIL_TIMEOUT)."""
    return timedelta(seconds=max(300, 6 * current_app.config["MAIL_TIMEOUT"]))


def _claim(message_id: int) -> bool:
    """Take one due message for this worker: a conditional UPDATE that only one of several
    concurrent workers can win (committed at once, so the claim is visible to them)."""
    now = clock.now()
    won = cast(CursorResult[Any], db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending",
               OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=now + _lease(), attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))).rowcount
    db.session.commit()
    return bool(won)


def _due_ids(limit: int) -> list[int]:
    stmt = (select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= clock.now())
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    ids = list(db.session.scalars(stmt))
    db.session.commit()  # end the read before the sends; claims are transactions of their own
    return ids


def deliver_due(limit: int = 100) -> tuple[int, int]:
    """Send what is due, each message claimed first. Returns (sent, failed attempts).

    Safe in any number of processes at once. When the mail server cannot be reached (down,
    refusing, or silent until the timeout) the round stops after that attempt: the other
    messages wait for the next one instead of each holding the worker for the timeout."""
    sent = failed = 0
    backend = current_app.config["MAIL_BACKEND"]
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    for message_id in _due_ids(limit):
        if not _claim(message_id):
            continue  # another worker has it
        message = db.session.get(OutboxMessage, message_id)
        if message is None:  # taken back since (drop_pending)
            continue
        if message.kind not in TO_CLOSED_ACCOUNTS and closed_account(message.to_addr):
            # queued before the account was closed
            db.session.delete(message)
            db.session.commit()
            log.info("mail outbox id %s dropped: the recipient closed their account",
                     message_id)
            continue
        unreachable = False
        try:
            email = _build(message)
            if backend == "smtp":
                _send_smtp(email)
            else:
                _send_console(email, message)
        except (OSError, smtplib.SMTPException) as exc:
            failed += 1
            unreachable = isinstance(exc, (OSError, smtplib.SMTPServerDisconnected,
                                           smtplib.SMTPConnectError))
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= max_attempts:
                message.status = "failed"
                log.error("mail %s to outbox id %s given up: %s", message.kind, message.id,
                          message.last_error)
            else:
                message.next_attempt_at = clock.now() + _backoff(message.attempts)
                log.warning("mail outbox id %s will be retried: %s", message.id,
                            message.last_error)
        else:
            sent += 1
            message.status = "sent"
            message.sent_at = clock.now()
            message.last_error = None
        db.session.commit()
        if unreachable:
            break
    return sent, failed


def undelivered_count() -> int:
    """Messages given up after their retries, waiting for an admin (SPEC 6.3)."""
    from sqlalchemy import func
    return db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == "failed")) or 0
