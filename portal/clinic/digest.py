"""The daily staff digest (SPEC 6.2): one e-mail a day to each active member of staff,
with how many things wait in the portal (and, for admins, how many e-mails wait
undelivered). Counts only: no names, nothing about anyone's health (SPEC 6.1).
``flask send-digest`` runs it from cron.

Sending twice the same day is prevented without a table of its own: the outbox already
holds every digest queued, so a member of staff who has one created since midnight on the
clinic's calendar gets no other. A lock taken first makes two overlapping runs queue one.
The worker's schedule asks ``is_due()`` every quarter of an hour and sends once the clinic's
day has reached DIGEST_TIME; ``flask send-digest`` sends at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from flask import current_app
from flask_babel import get_timezone
from sqlalchemy import select, text

from portal import clock, mail
from portal.auth import services as auth_services
from portal.clinic.worklist import services as worklist
from portal.extensions import db
from portal.links import absolute_url
from portal.models import OutboxMessage, User

KIND = "staff_digest"
# Any constant: the PostgreSQL advisory lock that serialises digest runs.
_DIGEST_LOCK = 7_241_102


def counts() -> dict[str, int]:
    """What waits for the clinic's staff, in the worklist's order (red flags first), counted
    by the worklist's own statements."""
    return worklist.counts()


def recipients() -> list[User]:
    return auth_services.active_staff()


def _start_of_clinic_day(moment: datetime) -> datetime:
    zone = get_timezone()  # the clinic's, through the Flask-Babel selector
    local = moment.astimezone(zone)
    midnight = datetime.combine(local.date(), time.min)
    midnight = zone.localize(midnight) if hasattr(zone, "localize") else \
        midnight.replace(tzinfo=zone)
    return midnight.astimezone(UTC)


def is_due(moment: datetime | None = None) -> bool:
    """Whether the clinic's day has reached DIGEST_TIME (HH:MM in the clinic's zone)."""
    hours, minutes = (int(part) for part in current_app.config["DIGEST_TIME"].split(":"))
    local = (moment or clock.now()).astimezone(get_timezone())
    return (local.hour, local.minute) >= (hours, minutes)


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DIGEST_LOCK})
    else:
        # A write that changes nothing takes SQLite's write lock until the commit.
        db.session.execute(text("UPDATE outbox_messages SET id = id WHERE 1 = 0"))


def _worklist_link() -> str:
    return absolute_url("clinic.worklist")


@dataclass
class DigestReport:
    queued: int
    already_sent: int


def send_digest() -> DigestReport:
    """Queue today's digest for each member of staff who has not had one today; commits."""
    _lock()
    since = _start_of_clinic_day(clock.now())
    done_today = set(db.session.scalars(
        select(OutboxMessage.to_addr).where(OutboxMessage.kind == KIND,
                                            OutboxMessage.created_at >= since)))
    numbers = counts()
    # Admins also hear of e-mail given up after its retries (only they can send it again,
    # SPEC 6.3); it is not work on the worklist, so it stays out of counts().
    for_admins = dict(numbers, undelivered_mail=mail.undelivered_count())
    link = _worklist_link()
    queued = skipped = 0
    for user in recipients():
        if user.email in done_today:
            skipped += 1
            continue
        mine = for_admins if user.role == "admin" else numbers
        mail.queue(KIND, user.email, user.locale, name=user.name, counts=mine,
                   total=sum(mine.values()), link=link)
        queued += 1
    db.session.commit()
    return DigestReport(queued, skipped)
