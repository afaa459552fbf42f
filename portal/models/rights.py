"""Patients' rights and the clinic's duties (SPEC 11): access and correction requests, the
privacy incident register, and the retention schedule's disposals with their tombstones.

Sources (docs/privacy.md has the longer account): Ontario PHIPA s. 54 (an access request is
answered within 30 days, 30 more with notice) and s. 55 (correction requests, the same
periods); Quebec's Act respecting the protection of personal information in the private
sector (Law 25) s. 27 (portability, since 22 September 2024) and s. 3.8 (register of
confidentiality incidents); PIPEDA s. 10.3 and the Breach of Security Safeguards Regulations
s. 6 (a record of every breach kept 24 months); College of Physiotherapists of Ontario,
Record Keeping Standard (records kept 10 years after the last visit, or after the patient's
18th birthday if later)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.intake import IntakeAmendment
from portal.models.patient import Patient
from portal.models.user import User

REQUEST_KINDS = ("access", "correction")
# portal: made by the patient in the portal; clinic: received by mail, phone or at the desk
# and entered by staff.
REQUEST_CHANNELS = ("portal", "clinic")
# provided: the record was given (access); amended: the correction was made; declined: the
# correction was refused with a reason the patient sees.
REQUEST_OUTCOMES = ("provided", "amended", "declined")
DISPOSAL_STATUSES = ("listed", "approved", "disposed", "cancelled")


class RecordRequest(Model):
    """One access or correction request, from receipt to answer (the requests register).

    ``due_at`` is the end of the clinic's day 30 days after receipt (clinic time zone); an
    extension with notice sets ``extended_due_at``. A request is answered once: the answer
    is a conditional UPDATE on ``answered_at IS NULL``. A download from "My record" is an
    access request answered at once. ``subject`` names what it is about: for a correction,
    the intake question's key (None: in general); for an access request, what was given
    ("record_page", "fhir_bundle") or asked for. Disposal of the patient's record blanks the
    free text (``detail``, ``response``) and keeps the dates."""
    __tablename__ = "record_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'correction')", name="kind"),
        CheckConstraint("channel IN ('portal', 'clinic')", name="channel"),
        CheckConstraint("outcome IS NULL OR outcome IN ('provided', 'amended', 'declined')",
                        name="outcome"),
        CheckConstraint("(answered_at IS NULL) = (outcome IS NULL)", name="answered"),
        # The register's open requests by due date (worklist, admin home).
        Index("ix_record_requests_open", "answered_at", "due_at"),
        Index("ix_record_requests_patient", "patient_id", "received_at"),
        Index("ix_record_requests_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False, default="portal")
    subject: Mapped[str | None] = mapped_column(String(64))
    # The patient's words (a correction: what is wrong and what it should say).
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    extended_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    # What the patient is told: the reason for a refusal, or a note with the amendment.
    response: Mapped[str | None] = mapped_column(Text)
    amendment_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_amendments.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship()
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    amendment: Mapped[IntakeAmendment | None] = relationship()

    @hybrid_property
    def due(self) -> datetime:
        """When the answer is due: the extended date if there is one."""
        return self.extended_due_at or self.due_at

    @due.inplace.expression
    @classmethod
    def _due_expression(cls) -> ColumnElement[datetime]:
        return func.coalesce(cls.extended_due_at, cls.due_at)

    def __repr__(self) -> str:
        return f"<RecordRequest {self.public_id} {self.kind}>"


class PrivacyIncident(Model):
    """One entry of the privacy incident register (PIPEDA breach record; Law 25 register of
    confidentiality incidents). Entries are never deleted: there is no route or service that
    deletes one, and the database refuses. ``version`` counts the entry's versions (1 when
    recorded); each edit keeps the version it replaces in ``privacy_incident_versions`` and
    is made only if nobody saved another version meanwhile."""
    __tablename__ = "privacy_incidents"
    __table_args__ = (Index("ix_privacy_incidents_discovered", "discovered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(Text, nullable=False)
    # Whose records: the patients' public ids or a description of the group.
    records_affected: Mapped[str] = mapped_column(Text, nullable=False)
    people_affected: Mapped[int | None] = mapped_column(Integer)
    real_risk: Mapped[bool] = mapped_column(Boolean, nullable=False)
    risk_reasoning: Mapped[str] = mapped_column(Text, nullable=False)
    regulator_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    individuals_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    measures: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                         server_default="1")

    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])


class PrivacyIncidentVersion(Model):
    """An earlier version of an incident entry: its values as they were before the edit that
    replaced them, when that edit was made and by whom. Kept here rather than in the audit
    log, whose details hold no health data and are never erased. Rows are only added: the
    database refuses to change or delete one (the migration's triggers)."""
    __tablename__ = "privacy_incident_versions"
    __table_args__ = (
        UniqueConstraint("incident_id", "version", name="uq_privacy_incident_versions_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("privacy_incidents.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(Text, nullable=False)
    records_affected: Mapped[str] = mapped_column(Text, nullable=False)
    people_affected: Mapped[int | None] = mapped_column(Integer)
    real_risk: Mapped[bool] = mapped_column(Boolean, nullable=False)
    risk_reasoning: Mapped[str] = mapped_column(Text, nullable=False)
    regulator_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    individuals_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    measures: Mapped[str | None] = mapped_column(Text)
    # The edit that replaced this version.
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RecordDisposal(Model):
    """A record past its retention period, from listing to disposal; once disposed, the
    tombstone. The periodic retention task lists it ("listed"); an admin approves it, and
    disposal happens with a second admin's confirmation ("approved" until then) or at once
    with the count typed; a legal hold cancels it. The patient row stays (the audit trail
    refers to it) with status "disposed" and nothing personal; this row keeps the public id,
    the dates and who approved."""
    __tablename__ = "record_disposals"
    __table_args__ = (
        UniqueConstraint("patient_id", name="uq_record_disposals_patient_id"),
        CheckConstraint("status IN ('listed', 'approved', 'disposed', 'cancelled')",
                        name="status"),
        Index("ix_record_disposals_status", "status", "listed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False)
    patient_public_id: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="listed")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_visit_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    retention_ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    listed_at: Mapped[datetime] = created_at_column()
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # "second_admin" or "typed_count": how the approval was confirmed.
    confirmation: Mapped[str | None] = mapped_column(String(20))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


__all__ = ["DISPOSAL_STATUSES", "REQUEST_CHANNELS", "REQUEST_KINDS", "REQUEST_OUTCOMES",
           "PrivacyIncident", "PrivacyIncidentVersion", "RecordDisposal", "RecordRequest"]
