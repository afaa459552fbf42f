"""Intake questionnaire responses, their amendments, consent signatures, and answers kept
safe across an expired sign-in (SPEC 2)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.patient import Patient
from portal.models.user import User

INTAKE_STATUSES = ("in_progress", "submitted")


class IntakeResponse(Model):
    """One patient's answers to one questionnaire (SPEC 2.1): it records the definition key
    and version it answered, so a newer version never changes it.

    ``revision`` grows with every save; a save that carries an older revision (a stale tab)
    is refused (SPEC 2.4). Submission is a conditional UPDATE from in_progress to submitted,
    so a double click or a retried request submits once (SPEC 2.6). After submission
    ``answers``, ``scores`` and ``flags`` never change: corrections are IntakeAmendment rows.
    """
    __tablename__ = "intake_responses"
    __table_args__ = (
        UniqueConstraint("patient_id", "definition_key"),
        CheckConstraint("status IN ('in_progress', 'submitted')", name="status"),
        CheckConstraint("status = 'in_progress' OR submitted_at IS NOT NULL",
                        name="submitted_at"),
        CheckConstraint("current_step >= 1", name="current_step"),
        Index("ix_intake_responses_worklist", "status", "reviewed_at", "has_red_flags"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    definition_key: Mapped[str] = mapped_column(String(64), nullable=False)
    definition_version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="in_progress")
    current_step: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The page (tab) that saved last: its own older revision is not a conflict.
    last_editor: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flags: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # What the worklist sorts and counts on; they follow amendments.
    has_red_flags: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    red_flag_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    precaution_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The reviewer's note; required when the intake has red flags, since the review is the
    # acknowledgement of the clinic's safety alert (SPEC 5.1).
    review_note: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    reviewed_by: Mapped[User | None] = relationship()
    amendments: Mapped[list[IntakeAmendment]] = relationship(
        back_populates="response", order_by="IntakeAmendment.id",
        cascade="all, delete-orphan")

    @property
    def submitted(self) -> bool:
        return self.status == "submitted"


class IntakeAmendment(Model):
    """A correction made after submission (SPEC 2.6). The original answers stay on the
    response; ``changes`` holds the new values and ``previous`` what they replaced
    (None: was not answered / is now removed)."""
    __tablename__ = "intake_amendments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("intake_responses.id", ondelete="CASCADE"), nullable=False, index=True)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flags: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    response: Mapped[IntakeResponse] = relationship(back_populates="amendments")
    author: Mapped[User | None] = relationship()


class ConsentSignature(Model):
    """A signed consent (SPEC 2.3 step 6): which text (key, version, SHA-256 of the exact
    text shown, its language), the name typed, when, from which address and browser.
    One current signature per patient and consent version; a new version asks for a new
    signature. A patient may withdraw consent at any time (CLINICAL.md, "Dry needling / IMS
    precautions and consent": the right to refuse or withdraw): the signature keeps its row with
    ``withdrawn_at``, and signing again makes a new row."""
    __tablename__ = "consent_signatures"
    __table_args__ = (
        Index("uq_consent_signatures_current", "patient_id", "consent_key", "consent_version",
              unique=True,
              postgresql_where=text("withdrawn_at IS NULL"),
              sqlite_where=text("withdrawn_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_responses.id", ondelete="SET NULL"), index=True)
    consent_key: Mapped[str] = mapped_column(String(64), nullable=False)
    consent_version: Mapped[int] = mapped_column(Integer, nullable=False)
    text_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    locale: Mapped[str] = mapped_column(String(10), nullable=False)
    typed_name: Mapped[str] = mapped_column(String(200), nullable=False)
    signed_at: Mapped[datetime] = created_at_column()
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # The practitioner's acknowledgement of the withdrawal alert (SPEC 11.1).
    withdrawal_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawal_seen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship()


class ConsentDiscussion(Model):
    """The second part of informed consent (SPEC 4.1; CLINICAL.md, "Informed consent is a
    conversation, not a form", College of Physiotherapists of Alberta): the practitioner
    records that risks, benefits and alternatives were explained, questions answered and the
    patient agrees, for the signature it completes. A new consent version or a withdrawal
    needs a new signature, and so a new discussion."""
    __tablename__ = "consent_discussions"
    __table_args__ = (
        Index("ix_consent_discussions_patient", "patient_id", "discussed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("consent_signatures.id", ondelete="CASCADE"), nullable=False, index=True)
    # When the conversation took place (the practitioner may record it afterwards).
    discussed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    discussed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    patient: Mapped[Patient] = relationship()
    signature: Mapped[ConsentSignature] = relationship()
    discussed_by: Mapped[User] = relationship()


class IntakeStash(Model):
    """What a patient typed when the save could not be accepted (signed out by the idle
    timeout, or an expired form): kept encrypted (portal.crypto) and put back into the form
    after signing in again (SPEC 2.4). One per patient and step; it holds raw form fields,
    never trusted as answers until the patient saves them."""
    __tablename__ = "intake_stashes"
    __table_args__ = (UniqueConstraint("patient_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    editor: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
