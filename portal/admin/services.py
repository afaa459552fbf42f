"""Clinic settings, staff management, undelivered e-mail and the audit log (admins only)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import load_only

from portal import audit, clock, mail
from portal.admin.logo import Logo
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import OutboxMessage, User


def staff() -> list[User]:
    return list(db.session.scalars(select(User)
                                   .where(User.role.in_(("practitioner", "admin")),
                                          User.password_hash.is_not(None))
                                   .order_by(User.name, User.id)))


@dataclass(frozen=True)
class SettingsChange:
    """What the settings form asks for; ``logo`` is a prepared new logo, or None to keep
    the current one."""
    name: str
    timezone: str
    self_registration: bool
    phone: str | None = None
    address: str | None = None
    locale: str = "en"
    logo: Logo | None = None
    retention_years: int = 10
    follow_up_first_weeks: int | None = 6
    follow_up_second_weeks: int | None = 12


_AUDITED = ("name", "phone", "address", "locale", "timezone", "self_registration",
            "retention_years", "follow_up_first_weeks", "follow_up_second_weeks")


def update_settings(admin: User, change: SettingsChange) -> None:
    settings = current_settings()
    before = {k: getattr(settings, k) for k in _AUDITED}
    settings.name = change.name.strip()
    settings.phone = change.phone or None
    settings.address = change.address or None
    settings.locale = change.locale
    settings.timezone = change.timezone
    settings.self_registration = change.self_registration
    settings.retention_years = change.retention_years
    settings.follow_up_first_weeks = change.follow_up_first_weeks
    settings.follow_up_second_weeks = change.follow_up_second_weeks
    settings.updated_at = clock.now()
    after = {k: getattr(settings, k) for k in _AUDITED}
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if changed:
        audit.write("settings.changed", actor=admin, detail=changed)
    if change.logo is not None and change.logo.digest != settings.logo_digest:
        _set_logo(admin, change.logo)
    db.session.commit()


def _set_logo(admin: User, logo: Logo | None) -> None:
    settings = current_settings()
    settings.logo = logo.data if logo else None
    settings.logo_mimetype = logo.mimetype if logo else None
    settings.logo_digest = logo.digest if logo else None
    settings.updated_at = clock.now()
    detail = {"type": logo.mimetype, "bytes": len(logo.data), "sha256": logo.digest} \
        if logo else None
    audit.write("settings.logo_changed" if logo else "settings.logo_removed", actor=admin,
                detail=detail)


def remove_logo(admin: User) -> bool:
    """False (and nothing written) when there is no logo."""
    if current_settings().logo_digest is None:
        return False
    _set_logo(admin, None)
    db.session.commit()
    return True


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


# --- the audit log (SPEC 7.1): searching it is portal.audit's; these are admin acts ---------

def record_audit_export(admin: User, filters: audit.AuditFilters) -> None:
    """The export is itself an event, stored before the first byte leaves."""
    audit.write("audit.exported", actor=admin, detail=filters.as_detail() or None)
    db.session.commit()


def verify_audit_chain(admin: User) -> audit.ChainReport:
    report = audit.verify_chain()
    audit.write("audit.verified", actor=admin,
                detail={"ok": report.ok, "checked": report.checked,
                        "first_bad_id": report.first_bad_id})
    db.session.commit()
    return report
