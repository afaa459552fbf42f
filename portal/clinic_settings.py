"""The clinic's settings row, created on first use."""
from __future__ import annotations

from flask import current_app, g

from portal.extensions import db
from portal.models import ClinicSettings


def current_settings() -> ClinicSettings:
    cached = g.get("clinic_settings")
    if cached is not None:
        return cached
    settings = db.session.get(ClinicSettings, 1)
    if settings is None:
        settings = ClinicSettings(id=1, name=current_app.config["CLINIC_NAME"])
        db.session.add(settings)
        db.session.commit()
    g.clinic_settings = settings
    return settings
