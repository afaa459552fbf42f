"""Clinic-wide settings: one row, one clinic per deployment (SPEC 1.1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Model, UTCDateTime, created_at_column


class ClinicSettings(Model):
    __tablename__ = "clinic_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="IMS Clinic")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False,
                                          default="America/Vancouver")
    self_registration: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
