"""Follow-ups after discharge (SPEC 12): a short questionnaire some weeks after the last
session, asking whether the improvement lasted.

It asks what a session rating's follow-up score asks, the average pain over the past 24 hours
(CLINICAL.md, "What the follow-up score asks": IMMPACT, Dworkin et al., Pain 2005), the change
since starting treatment (PGIC, -3..+3 as on session ratings) and the PSFS activities named at
intake (Stratford et al., Physiotherapy Canada 1995). "Improvement kept" applies the portal's
improvement rule (portal.outcomes: at least 2 points and at least 30% below baseline) to the
follow-up's pain."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.patient import Patient

# scheduled: waiting for its date; sent: e-mailed, not answered; answered; declined: the
# patient declined follow-ups; cancelled: re-admitted, account closed, or due too long ago
# to be sent (the worker was stopped).
FOLLOW_UP_STATUSES = ("scheduled", "sent", "answered", "declined", "cancelled")


class FollowUp(Model):
    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("patient_id", "discharged_at", "weeks",
                         name="uq_follow_ups_discharge_weeks"),
        CheckConstraint("status IN ('scheduled', 'sent', 'answered', 'declined', "
                        "'cancelled')", name="status"),
        CheckConstraint("weeks >= 1 AND weeks <= 104", name="weeks"),
        CheckConstraint("pain_average IS NULL OR (pain_average >= 0 AND pain_average <= 10)",
                        name="pain_average"),
        CheckConstraint("pgic IS NULL OR (pgic >= -3 AND pgic <= 3)", name="pgic"),
        CheckConstraint("status != 'answered' OR (answered_at IS NOT NULL AND "
                        "pain_average IS NOT NULL)", name="answered"),
        # The worker's due follow-ups and reminders; the worklist's answered and overdue.
        Index("ix_follow_ups_status_due", "status", "due_at"),
        Index("ix_follow_ups_answered", "answered_at"),
        Index("ix_follow_ups_patient", "patient_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    # The discharge it follows (Patient.discharged_at then) and how many weeks after it.
    discharged_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="scheduled")
    # The NPRS baseline and whether the patient was a responder ("improved") at discharge:
    # as they stood when the follow-up was scheduled, worked out again when it is answered
    # (the last session's rating can come after the discharge).
    baseline: Mapped[int | None] = mapped_column(Integer)
    improved_at_discharge: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                        default=False)
    # The e-mailed link's secret, hashed (SHA-256), and until when it opens the form.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pain_average: Mapped[int | None] = mapped_column(Integer)
    pgic: Mapped[int | None] = mapped_column(Integer)
    # [{"activity": name from the intake, "score": 0-10}, ...]
    psfs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    psfs_mean: Mapped[float | None] = mapped_column(Float)
    # The improvement rule on pain_average against baseline (None: no baseline).
    kept: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = created_at_column()

    patient: Mapped[Patient] = relationship()

    def __repr__(self) -> str:
        return f"<FollowUp {self.public_id} {self.weeks}w {self.status}>"
