"""The patient record. Later features (intake, documents, treatment) hang off it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, created_at_column, public_id_column
from portal.models.user import User

# SPEC 5.2; the foundation sets the first two, later features the rest.
PATIENT_STATUSES = ("invited", "intake_in_progress", "intake_submitted", "cleared",
                    "in_treatment", "discharged")


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("status IN ('invited', 'intake_in_progress', 'intake_submitted', "
                        "'cleared', 'in_treatment', 'discharged')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         unique=True, nullable=False)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="invited")
    created_at: Mapped[datetime] = created_at_column()
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id],
                                      backref=db.backref("patient", uselist=False))
    practitioner: Mapped[User | None] = relationship(foreign_keys=[practitioner_id])
