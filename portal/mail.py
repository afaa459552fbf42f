"""E-mail through an outbox (SPEC 6.1, 6.3).

``queue()`` renders a message in the recipient's language and adds it to the caller's
transaction: the message exists exactly when the event that caused it does. Delivery runs
after the commit (when the response has been sent) and from ``flask send-mail``; a failed
attempt is retried later with exponential backoff, so a mail server outage loses nothing.

Messages never carry health information: only "there is something for you in the portal"
and a link.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, g, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


def queue(kind: str, to_addr: str, locale: str | None, **context) -> OutboxMessage:
    """Render templates/email/<kind>.{subject,txt,html} in ``locale`` and add to the outbox."""
    locale = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        context.setdefault("clinic_name", _clinic_name())
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
        body_text = render_template(f"email/{kind}.txt", **context)
        body_html = render_template(f"email/{kind}.html", **context)
    message = OutboxMessage(kind=kind, to_addr=to_addr, subject=subject,
                            body_text=body_text, body_html=body_html,
                            next_attempt_at=clock.now())
    db.session.add(message)
    if has_request_context():
        g.portal_mail_queued = True
    return message


def _clinic_name() -> str:
    from portal.models import ClinicSettings
    settings = db.session.get(ClinicSettings, 1)
    return settings.name if settings else current_app.config["CLINIC_NAME"]


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


def deliver_due(limit: int = 100) -> tuple[int, int]:
    """Send what is due. Returns (sent, failed attempts). Safe to run in several processes
    on PostgreSQL (rows are claimed with SKIP LOCKED)."""
    sent = failed = 0
    backend = current_app.config["MAIL_BACKEND"]
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    for _ in range(limit):
        stmt = (select(OutboxMessage)
                .where(OutboxMessage.status == "pending",
                       OutboxMessage.next_attempt_at <= clock.now())
                .order_by(OutboxMessage.id).limit(1))
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        message = db.session.scalars(stmt).first()
        if message is None:
            break
        message.attempts += 1
        try:
            email = _build(message)
            if backend == "smtp":
                _send_smtp(email)
            else:
                _send_console(email, message)
        except (OSError, smtplib.SMTPException) as exc:
            failed += 1
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
    return sent, failed


def deliver_after_response(response):
    """after_request hook: when this request queued mail, send it once the response is out."""
    if g.get("portal_mail_queued") and current_app.config["MAIL_SEND_ON_COMMIT"]:
        app = current_app._get_current_object()

        def send():
            with app.app_context():
                try:
                    deliver_due()
                except Exception:  # never let mail break a finished request
                    log.exception("delivery after response failed; send-mail will retry")
                    db.session.rollback()
        response.call_on_close(send)
    return response
