"""Clinic settings and staff management (admins only)."""
from __future__ import annotations

from sqlalchemy import select

from portal import audit, clock
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.models import User


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
