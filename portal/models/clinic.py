"""Clinic-wide settings: one row, one clinic per deployment (SPEC 1.1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Model, UTCDateTime, created_at_column


class ClinicSettings(Model):
    __tablename__ = "clinic_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="IMS Clinic")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False,
                                          default="America/Vancouver")
    self_registration: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The clinic's identity on patient pages, e-mails and urgent advice (issue 15): how to
    # reach the clinic, the language new people get until they choose one, and an optional
    # logo (PNG or JPEG, stored here because it is small and shared by every app process;
    # its digest names its URL so that browsers may cache it for a year).
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    locale: Mapped[str] = mapped_column(String(10), nullable=False, default="en")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_mimetype: Mapped[str | None] = mapped_column(String(40))
    logo_digest: Mapped[str | None] = mapped_column(String(64))
    # Records are kept this many years after the last visit, then listed for disposal
    # (SPEC 11.2; 10 is the College of Physiotherapists of Ontario's minimum).
    retention_years: Mapped[int] = mapped_column(Integer, nullable=False, default=10,
                                                 server_default="10")
    # Follow-ups after discharge, in weeks (SPEC 12.1); NULL turns one off.
    follow_up_first_weeks: Mapped[int | None] = mapped_column(Integer, default=6,
                                                              server_default="6")
    follow_up_second_weeks: Mapped[int | None] = mapped_column(Integer, default=12,
                                                               server_default="12")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
