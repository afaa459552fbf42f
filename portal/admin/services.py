"""Clinic settings, staff management, undelivered e-mail and the audit log (admins only)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import format_datetime, get_timezone
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased, load_only

from portal import audit, clock, csvexport, mail
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Patient, User


def staff() -> list[User]:
    return list(db.session.scalars(select(User)
                                   .where(User.role.in_(("practitioner", "admin")),
                                          User.password_hash.is_not(None))
                                   .order_by(User.name, User.id)))


def update_settings(admin: User, name: str, timezone: str, self_registration: bool) -> None:
    settings = current_settings()
    before = {"name": settings.name, "timezone": settings.timezone,
              "self_registration": settings.self_registration}
    settings.name = name.strip()
    settings.timezone = timezone
    settings.self_registration = self_registration
    settings.updated_at = clock.now()
    after = {"name": settings.name, "timezone": settings.timezone,
             "self_registration": settings.self_registration}
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if changed:
        audit.write("settings.changed", actor=admin, detail=changed)
    db.session.commit()


# --- undelivered e-mail (SPEC 6.3) ---------------------------------------------------

UNDELIVERED_SHOWN = 20
ERROR_SHOWN = 200


@dataclass(frozen=True)
class UndeliveredRow:
    """What an admin needs to decide to send a message again; never its subject or body."""
    id: int
    kind: str
    to_addr: str
    created_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Undelivered:
    rows: list[UndeliveredRow]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def _trimmed(error: str | None) -> str | None:
    if error and len(error) > ERROR_SHOWN:
        return error[:ERROR_SHOWN - 1].rstrip() + "\u2026"
    return error


def undelivered_mail(limit: int = UNDELIVERED_SHOWN) -> Undelivered:
    """The messages given up after their retries: how many, and the most recently queued
    ``limit`` of them."""
    total = mail.undelivered_count()
    if not total:
        return Undelivered([], 0)
    stmt = (select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.to_addr,
                   OutboxMessage.created_at, OutboxMessage.attempts, OutboxMessage.last_error)
            .where(OutboxMessage.status == "failed")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit))
    rows = [UndeliveredRow(r.id, r.kind, r.to_addr, r.created_at, r.attempts,
                           _trimmed(r.last_error)) for r in db.session.execute(stmt)]
    return Undelivered(rows, max(total, len(rows)))


def _resend(admin: User, message: OutboxMessage) -> bool:
    # Read before resend(), which expires the object.
    message_id, kind, to_addr = message.id, message.kind, message.to_addr
    if not mail.resend(message):
        return False
    audit.write("mail.resent", actor=admin, subject=str(message_id),
                detail={"kind": kind, "to": to_addr})
    return True


def resend_mail(admin: User, message: OutboxMessage) -> bool:
    """Give one failed message a new round of attempts; False (and nothing written) when it
    is no longer failed, for instance sent again by another admin meanwhile."""
    done = _resend(admin, message)
    db.session.commit()
    return done


def resend_all_mail(admin: User) -> int:
    """Every failed message, each one sent again and audited; returns how many."""
    messages = db.session.scalars(
        select(OutboxMessage).options(load_only(OutboxMessage.kind, OutboxMessage.to_addr))
        .where(OutboxMessage.status == "failed").order_by(OutboxMessage.id)).all()
    done = sum(_resend(admin, message) for message in messages)
    db.session.commit()
    return done


def outbox_message(message_id: int) -> OutboxMessage | None:
    return db.session.get(OutboxMessage, message_id)


# --- the audit log (SPEC 7.1) -----------------------------------------------------------

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    """One search of the log; every field optional. Dates are days on the clinic's calendar,
    both ends included."""
    patient: str = ""
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_detail(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    actor_email: str | None
    actor_name: str | None
    action: str
    patient_public_id: str | None
    patient_name: str | None
    subject: str | None
    ip: str | None
    detail: str | None

    @property
    def detail_items(self) -> list[tuple[str, str]]:
        if not self.detail:
            return []
        try:
            data = json.loads(self.detail)
        except ValueError:
            return [("", self.detail)]
        if not isinstance(data, dict):
            return [("", str(data))]
        return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                for k, v in data.items()]


@dataclass
class AuditPage:
    rows: list[AuditRow]
    # Keyset cursors: the id to continue from, or None at either end of the log.
    older: int | None
    newer: int | None


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).distinct()
                                   .order_by(AuditEvent.action)))


def _like(text_: str) -> str:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _clinic_midnight(day: date) -> datetime:
    """The start of ``day`` on the clinic's wall clock, in UTC (Flask-Babel's zone, which is
    the clinic's setting, so the period matches the times shown on the page)."""
    zone = get_timezone()
    local = datetime.combine(day, time.min)
    local = zone.localize(local) if hasattr(zone, "localize") else local.replace(tzinfo=zone)
    return local.astimezone(timezone.utc)


def _audit_select(filters: AuditFilters):
    """Each event with its actor's and patient's names: one statement, whatever the page
    holds (no lazy loads per row)."""
    actor = aliased(User, name="actor")
    patient_user = aliased(User, name="patient_user")
    stmt = (select(AuditEvent.id, AuditEvent.created_at, AuditEvent.actor_email,
                   actor.name.label("actor_name"), AuditEvent.action,
                   Patient.public_id.label("patient_public_id"),
                   patient_user.name.label("patient_name"), AuditEvent.subject,
                   AuditEvent.ip, AuditEvent.detail)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
            .outerjoin(patient_user, patient_user.id == Patient.user_id))
    if filters.patient:
        # A public id, or what the staff patient search finds (name, e-mail, phone, date of
        # birth): its indexed column, then this log's index on patient_id.
        from portal.clinic import search  # (the clinic package imports this module)

        term = filters.patient.strip()
        stmt = stmt.where(or_(Patient.public_id == term,
                              AuditEvent.patient_id.in_(search.matching_patient_ids(term))))
    if filters.actor:
        stmt = stmt.where(func.lower(AuditEvent.actor_email)
                          .like(_like(filters.actor.strip()), escape="\\"))
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.date_from:
        stmt = stmt.where(AuditEvent.created_at >= _clinic_midnight(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(AuditEvent.created_at
                          < _clinic_midnight(filters.date_to + timedelta(days=1)))
    return stmt


def search_audit(filters: AuditFilters, before: int | None = None, after: int | None = None,
                 per_page: int = PAGE_SIZE) -> AuditPage:
    """Newest first, keyset-paginated on id: ``before`` continues to older events, ``after``
    goes back to newer ones. Events written between two pages neither repeat nor vanish."""
    stmt = _audit_select(filters)
    if after is not None:
        stmt = stmt.where(AuditEvent.id > after).order_by(AuditEvent.id.asc())
    else:
        if before is not None:
            stmt = stmt.where(AuditEvent.id < before)
        stmt = stmt.order_by(AuditEvent.id.desc())
    rows = [AuditRow(**row._asdict()) for row in db.session.execute(stmt.limit(per_page + 1))]
    more = len(rows) > per_page
    rows = rows[:per_page]
    if after is not None:
        rows.reverse()
        older = rows[-1].id if rows else None
        newer = rows[0].id if rows and more else None
    else:
        older = rows[-1].id if rows and more else None
        newer = rows[0].id if rows and before is not None else None
    return AuditPage(rows, older, newer)


def record_audit_export(admin: User, filters: AuditFilters) -> None:
    """The export is itself an event, stored before the first byte leaves."""
    audit.write("audit.exported", actor=admin, detail=filters.as_detail() or None)
    db.session.commit()


CSV_HEADER = ["id", "time", "actor_email", "actor_name", "action", "patient_id",
              "patient_name", "subject", "ip", "detail"]


def audit_csv(filters: AuditFilters, batch: int = 500) -> Iterator[str]:
    """The search as CSV (portal.csvexport: byte-order mark, cells safe from formulas),
    streamed newest first, fetched ``batch`` at a time."""
    stmt = (_audit_select(filters).order_by(AuditEvent.id.desc())
            .execution_options(yield_per=batch))

    def rows():
        for row in db.session.execute(stmt):
            when = format_datetime(row.created_at, "yyyy-MM-dd HH:mm:ss ZZZZZ")
            yield [row.id, when, row.actor_email, row.actor_name, row.action,
                   row.patient_public_id, row.patient_name, row.subject, row.ip, row.detail]

    return csvexport.stream(CSV_HEADER, rows())


def verify_audit_chain(admin: User) -> audit.ChainReport:
    report = audit.verify_chain()
    audit.write("audit.verified", actor=admin,
                detail={"ok": report.ok, "checked": report.checked,
                        "first_bad_id": report.first_bad_id})
    db.session.commit()
    return report
