"""Documents a patient uploads (SPEC 3): the physician's clearance and others.

The file itself is not here: ``blob_key`` and ``preview_key`` name encrypted blobs in the
configured storage (portal.storage). ``original_name`` is what the patient's device called
the file, kept only to show it back; it never becomes a path.

A document's life: the upload request stores the bytes as they came (``original_key``) and
the record as "checking"; the background worker (portal.documents.checks) claims it
(``check_claimed_until``), checks and converts it, and in one transaction stores what is
kept (``blob_key``, ``preview_key``), drops the original and makes it "pending" (ready for
review), or "refused" with a reason (``refusal_code``, ``refusal_params``) and nothing of
the file kept but its name. Staff never see "checking" or "refused" documents.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.patient import Patient
from portal.models.user import User

DOCUMENT_KINDS = ("clearance", "imaging", "referral", "other")
DOCUMENT_STATUSES = ("checking", "pending", "accepted", "rejected", "refused")
# What staff may see: checked files, whatever their review.
STAFF_STATUSES = ("pending", "accepted", "rejected")
# What the portal stores (HEIC/HEIF photos are converted to JPEG on the way in).
STORED_TYPES = ("application/pdf", "image/jpeg", "image/png")


class Document(Model):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("kind IN ('clearance', 'imaging', 'referral', 'other')", name="kind"),
        CheckConstraint("status IN ('checking', 'pending', 'accepted', 'rejected', 'refused')",
                        name="status"),
        CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')",
                        name="content_type"),
        # The same file twice for one patient is refused (services.upload says so).
        # (NULLs, while checking and once refused, never collide.)
        UniqueConstraint("patient_id", "sha256", name="uq_documents_patient_sha256"),
        UniqueConstraint("patient_id", "original_sha256",
                         name="uq_documents_patient_original_sha256"),
        Index("ix_documents_review_queue", "status", "kind", "created_at"),
        # The worklist's letters waiting, one entry per patient (GROUP BY patient_id) read
        # from the index alone, instead of every document by patient.
        Index("ix_documents_pending_patient", "status", "kind", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Decided from the content; original_type differs when a photo was converted.
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    original_type: Mapped[str] = mapped_column(String(40), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    # Of what is stored (blob_key); none while checking, or once refused.
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Of the bytes as uploaded, to refuse the same file twice (none on older rows, and once
    # refused).
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    preview_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The upload as it came, until the worker has checked it.
    original_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    check_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the check refused it: a message code of portal.documents.views and its values.
    refusal_code: Mapped[str | None] = mapped_column(String(20))
    refusal_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The date of the physician's letter, entered by the reviewer on accepting a clearance:
    # the clearance is valid from that day (SPEC 3.3). Accepted clearances from before the
    # field got their review date (the upload's when never reviewed) by migration.
    letter_date: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # A new clearance uploaded after a rejected one replaces it.
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"))

    patient: Mapped[Patient] = relationship(back_populates="documents")
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    replaces: Mapped[Document | None] = relationship(remote_side=[id],
                                                     back_populates="replaced_by")
    replaced_by: Mapped[list[Document]] = relationship(back_populates="replaces")

    @property
    def reviewed(self) -> bool:
        return self.status in ("accepted", "rejected")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self) -> str:
        return f"<Document {self.public_id} {self.kind} {self.status}>"


class StoredChunk(Model):
    """The database storage backend: encrypted content in ordered chunks, so that a file
    is written and read a chunk at a time, never whole in memory (portal.storage)."""
    __tablename__ = "stored_chunks"
    __table_args__ = (UniqueConstraint("key", "seq", name="uq_stored_chunks_key_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
