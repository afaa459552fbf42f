"""The patient record. Later features (intake, documents, treatment) hang off it."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.user import User

if TYPE_CHECKING:
    from portal.models.document import Document

# SPEC 5.2; the foundation sets the first two, later features the rest.
PATIENT_STATUSES = ("invited", "intake_in_progress", "intake_submitted", "cleared",
                    "in_treatment", "discharged")
# A record disposed of at the end of its retention period (SPEC 11.2): the row stays, with
# nothing personal, because the audit trail refers to it; no list, search or export shows it.
DISPOSED = "disposed"
# Why a patient was discharged (SPEC 5.3): coded, so that the record and the audit log say
# why without free text; the labels are in portal/clinic/chart_forms.py.
DISCHARGE_REASONS = ("completed", "patient_request", "referred", "no_contact", "moved_away",
                     "deceased", "other")
# No follow-up after discharge for these (SPEC 12.1).
NO_FOLLOW_UP_REASONS = ("moved_away", "deceased")


class Patient(Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("status IN ('invited', 'intake_in_progress', 'intake_submitted', "
                        "'cleared', 'in_treatment', 'discharged', 'disposed')", name="status"),
        CheckConstraint("discharge_reason IS NULL OR discharge_reason IN ('completed', "
                        "'patient_request', 'referred', 'no_contact', 'moved_away', 'deceased', "
                        "'other')",
                        name="discharge_reason"),
        # The patient list's orders, each with the id that breaks ties (keyset pages) and
        # the search column, so that a search walks one index in order without reading the
        # table row of every patient it passes (SQLite has no trigram index).
        Index("ix_patients_activity", "last_activity_at", "id", "search_text"),
        Index("ix_patients_pain_change", "pain_change", "id", "search_text"),
        Index("ix_patients_status_activity", "status", "last_activity_at", "id", "search_text"),
        Index("ix_patients_status_pain_change", "status", "pain_change", "id", "search_text"),
        # "My patients" on the worklist: a practitioner's patients at a stage, with the id
        # (SQLite's indexes always carry it), so that the worklist reads the index alone.
        Index("ix_patients_practitioner_status", "practitioner_id", "status",
              postgresql_include=["id"]),
        # Invitations not accepted yet, among years of patients (the worklist).
        Index("ix_patients_invited", "practitioner_id", "user_id",
              postgresql_where=text("status = 'invited'"),
              sqlite_where=text("status = 'invited'")),
        # Substring search: a trigram index on PostgreSQL (pg_trgm, created by the
        # migration); SQLite has none, so there it is a plain index that nothing relies on.
        Index("ix_patients_search_text", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True, nullable=False)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="invited")
    created_at: Mapped[datetime] = created_at_column()
    # Anything the patient or the clinic did on the record; the list's default order.
    last_activity_at: Mapped[datetime] = created_at_column()
    # From the submitted intake (and its amendments): digits only (portal.searchtext).
    phone: Mapped[str | None] = mapped_column(String(20))
    date_of_birth: Mapped[date | None] = mapped_column(Date, index=True)
    # Kept in step by portal.models.sync: what the patient search matches, and the NPRS
    # change from the baseline (TreatmentOutcome.latest_nprs - baseline; negative is less
    # pain), so that the list sorts on columns of this table.
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    pain_change: Mapped[int | None] = mapped_column(Integer)
    # The last discharge, while the patient is discharged (cleared on re-admission). The
    # reason is NULL for a discharge recorded before reasons were kept.
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discharge_reason: Mapped[str | None] = mapped_column(String(20))
    # The patient declined follow-ups after discharge (SPEC 12.1), one click from any of them.
    follow_ups_declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A legal hold blocks disposal at the end of the retention period (SPEC 11.2).
    legal_hold: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                             server_default=false())
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    legal_hold_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The patient closed their account (SPEC 11.1): sign-in ends and mail stops; the record
    # is kept until the retention period ends.
    account_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id], back_populates="patient")
    practitioner: Mapped[User | None] = relationship(foreign_keys=[practitioner_id])
    legal_hold_by: Mapped[User | None] = relationship(foreign_keys=[legal_hold_by_id])
    # Newest first; the database deletes them with the patient (ON DELETE CASCADE).
    documents: Mapped[list[Document]] = relationship(
        back_populates="patient", passive_deletes=True, order_by="Document.created_at.desc()")
