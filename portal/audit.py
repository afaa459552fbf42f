"""The audit log (SPEC 7.1): append-only and hash-chained.

``write()`` adds an event to the caller's transaction; it commits nothing, so an event is
stored exactly when the change it describes is. Each event's hash covers its content and
the previous event's hash: altering, removing or reordering a stored row breaks the chain,
and ``verify_chain()`` says where. The migration also installs database triggers that
refuse UPDATE and DELETE on the table.

Reading it is here too: the admin's search (``search_audit``, keyset pages), its CSV
(``audit_csv``) and the rows a patient's activity tab shows, so that the admin pages and
the chart both read the log through one module below them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel import dates
from flask import has_request_context, request
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import aliased

from portal import audit_words, clock, csvexport
from portal.extensions import db
from portal.models import AuditEvent, Patient, User
from portal.patient_terms import matching_patient_ids
from portal.security import me

GENESIS = "0" * 64
# Any constant: the PostgreSQL advisory lock that serialises writers of the chain.
_CHAIN_LOCK = 7_241_101


def _canonical(event: AuditEvent) -> bytes:
    created = event.created_at.astimezone(UTC)
    payload = [
        event.prev_hash,
        created.isoformat(timespec="microseconds"),
        event.actor_id,
        event.actor_email,
        event.action,
        event.patient_id,
        event.subject,
        event.ip,
        event.detail,
    ]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def write(action: str, *, patient: Patient | None = None, actor: User | None = None,
          subject: str | None = None, detail: dict[str, Any] | None = None) -> AuditEvent:
    """Record ``action`` in the current transaction. ``detail`` must hold no health data."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = me()
    ip = request.remote_addr if has_request_context() else None
    session = db.session
    session.flush()  # ids for actor and patient
    # Serialise writers so that two events never claim the same predecessor.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    else:
        # A write (that changes nothing) takes SQLite's write lock until the commit.
        session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        created_at=clock.now(),
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        action=action,
        patient_id=patient.id if patient is not None else None,
        subject=subject[:254] if subject else None,
        ip=ip,
        detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
        prev_hash=prev or GENESIS,
    )
    event.hash = _digest(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None


def verify_chain(batch: int = 1000) -> ChainReport:
    prev = GENESIS
    checked = 0
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    for event in db.session.scalars(stmt):
        if event.prev_hash != prev or _digest(event) != event.hash:
            return ChainReport(False, checked, event.id)
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)


# --- reading the log: the admin search, its CSV and a patient's activity (SPEC 7.1) -----

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
    def action_words(self) -> str:
        return audit_words.action_label(self.action)

    @property
    def detail_items(self) -> list[tuple[str, str]]:
        return audit_words.detail_items(self.detail)


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
    return local.astimezone(UTC)


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
        term = filters.patient.strip()
        stmt = stmt.where(or_(Patient.public_id == term,
                              AuditEvent.patient_id.in_(matching_patient_ids(term))))
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


# The codes as stored, then the action in the reader's words (added last: readers of the
# earlier columns keep their places).
CSV_HEADER = ["id", "time", "actor_email", "actor_name", "action", "patient_id",
              "patient_name", "subject", "ip", "detail", "action_words"]


CSV_BATCH = 500  # rows fetched at a time while streaming


def audit_csv(filters: AuditFilters, batch: int = CSV_BATCH) -> Iterator[str]:
    """The search as CSV (portal.csvexport: byte-order mark, cells safe from formulas),
    streamed newest first, fetched ``batch`` at a time. The clinic's time zone and the
    page's language are read now, in the request: the rows are read after it (see
    portal.streaming)."""
    stmt = (_audit_select(filters).order_by(AuditEvent.id.desc())
            .execution_options(yield_per=batch))
    zone, locale = get_timezone(), get_locale()
    words = {code: str(label) for code, label in audit_words.ACTIONS.items()}

    def rows():
        for row in db.session.execute(stmt):
            when = dates.format_datetime(row.created_at, "yyyy-MM-dd HH:mm:ss ZZZZZ",
                                         tzinfo=zone, locale=locale)
            yield [row.id, when, row.actor_email, row.actor_name, row.action,
                   row.patient_public_id, row.patient_name, row.subject, row.ip, row.detail,
                   words.get(row.action, row.action)]

    return csvexport.stream(CSV_HEADER, rows())
