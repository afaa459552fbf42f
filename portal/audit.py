"""The audit log (SPEC 7.1): append-only and hash-chained.

``write()`` adds an event to the caller's transaction; it commits nothing, so an event is
stored exactly when the change it describes is. Each event's hash covers its content and
the previous event's hash: altering, removing or reordering a stored row breaks the chain,
and ``verify_chain()`` says where. The migration also installs database triggers that
refuse UPDATE and DELETE on the table.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Patient, User

GENESIS = "0" * 64
# Any constant: the PostgreSQL advisory lock that serialises writers of the chain.
_CHAIN_LOCK = 7_241_101


def _canonical(event: AuditEvent) -> bytes:
    created = event.created_at.astimezone(timezone.utc)
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
        actor = current_user._get_current_object()
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
