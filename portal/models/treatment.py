"""Treatment sessions, the patient's rating of each, and each patient's outcome (SPEC 4).

* ``TreatmentSession``: what a practitioner records (SPEC 4.1). Never deleted: a cancelled
  session keeps its row with who cancelled it and why, and a correction keeps the values it
  replaced in ``corrections``. ``rating_opens_at`` anchors the rating window (reminder,
  closing); ``reminder_sent_at`` and ``rating_closed_at`` are set once each by a conditional
  UPDATE, so ``flask send-reminders`` never acts twice on a session.
* ``SessionRating``: the patient's answers (SPEC 4.2), at most one per session: the unique
  constraint on ``session_id`` is what makes a double submission one rating.
* ``TreatmentOutcome``: one row per patient in treatment: the practitioner's baseline
  override, if any, and the classification of portal.outcomes kept up to date by the
  treatment services, so that the worklist counts "improved" and "worsening" in SQL.
* ``OutcomePoint``: that classification as it stood after each rated session, kept with it,
  so that the clinic's outcome figures are sums over stored rows.
"""
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
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column
from portal.models.patient import Patient
from portal.models.user import User

SESSION_STATUSES = ("recorded", "cancelled")
# How long post-needling soreness lasted (SPEC 4.2); the labels are in portal/treatment/forms.
SORENESS_DURATIONS = ("none", "under_day", "one_two_days", "three_plus_days", "still_sore")
OUTCOME_STATUSES = ("improved", "unchanged", "worse", "unknown")


class TreatmentSession(Model):
    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('recorded', 'cancelled')", name="status"),
        CheckConstraint("nprs_before IS NULL OR (nprs_before >= 0 AND nprs_before <= 10)",
                        name="nprs_before"),
        CheckConstraint("status = 'recorded' OR cancelled_at IS NOT NULL", name="cancelled_at"),
        # The record form carries a random key: the same form sent twice is one session.
        UniqueConstraint("patient_id", "form_key", name="uq_treatment_sessions_form_key"),
        Index("ix_treatment_sessions_patient_time", "patient_id", "treated_at"),
        # Reminders, closing and "ratings overdue" all look sessions up by this; with the
        # patient and the id in it, counting the overdue ones reads the index alone.
        Index("ix_treatment_sessions_rating_window", "status", "rating_closed_at",
              "rating_opens_at", "patient_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    treated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Body-map region codes (portal.intake.bodymap), the same as the intake's.
    regions: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    nprs_before: Mapped[int | None] = mapped_column(Integer)
    # The practitioner's private notes: never shown to the patient.
    notes: Mapped[str | None] = mapped_column(Text)
    # Recorded although the patient was not cleared or had no current consent (SPEC 4.1):
    # which checks failed ("clearance", "consent") and the practitioner's reason.
    override_gates: Mapped[list[str] | None] = mapped_column(JSON)
    override_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="recorded")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Each correction: {"at", "by" (user public id), "reason", "previous": {field: value}}.
    corrections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False,
                                                              default=list)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    rating_opens_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    form_key: Mapped[str | None] = mapped_column(String(32))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    patient: Mapped[Patient] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    rating: Mapped[SessionRating | None] = relationship(back_populates="session",
                                                         uselist=False,
                                                         passive_deletes=True)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason)

    def __repr__(self) -> str:
        return f"<TreatmentSession {self.public_id} {self.status}>"


class SessionRating(Model):
    __tablename__ = "session_ratings"
    __table_args__ = (
        UniqueConstraint("session_id", name="uq_session_ratings_session_id"),
        CheckConstraint("pain_now >= 0 AND pain_now <= 10", name="pain_now"),
        CheckConstraint("pain_average IS NULL OR (pain_average >= 0 AND pain_average <= 10)",
                        name="pain_average"),
        CheckConstraint("score_question IN ('pain_now', 'average_24h')",
                        name="score_question"),
        CheckConstraint("score_question = 'pain_now' OR pain_average IS NOT NULL",
                        name="pain_average_asked"),
        CheckConstraint("soreness >= 0 AND soreness <= 10", name="soreness"),
        # PGIC stored from -3 (very much worse) through 0 (no change) to +3 (very much
        # improved); portal/treatment/forms.py holds the seven labels.
        CheckConstraint("pgic >= -3 AND pgic <= 3", name="pgic"),
        CheckConstraint("soreness_duration IN ('none', 'under_day', 'one_two_days', "
                        "'three_plus_days', 'still_sore')", name="soreness_duration"),
        Index("ix_session_ratings_alert", "breathing_alert", "alert_handled_at"),
        # Safety answers not handled yet, by patient ("my patients" on the worklist).
        Index("ix_session_ratings_open_alerts", "patient_id",
              postgresql_where=text("breathing_alert IS TRUE AND alert_handled_at IS NULL"),
              sqlite_where=text("breathing_alert IS 1 AND alert_handled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_sessions.id", ondelete="CASCADE"), nullable=False)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    pain_now: Mapped[int] = mapped_column(Integer, nullable=False)
    # The follow-up score's question (SPEC 4.2, CLINICAL.md "What the follow-up score asks"):
    # "average_24h" (average pain over the past 24 hours, in ``pain_average``, asked from the
    # day after the session) for ratings from now on; "pain_now" for those stored before,
    # whose score was the pain at the time of rating.
    score_question: Mapped[str] = mapped_column(String(16), nullable=False,
                                                default="average_24h",
                                                server_default="pain_now")
    pain_average: Mapped[int | None] = mapped_column(Integer)
    pgic: Mapped[int] = mapped_column(Integer, nullable=False)
    soreness: Mapped[int] = mapped_column(Integer, nullable=False)
    soreness_duration: Mapped[str] = mapped_column(String(20), nullable=False)
    # Every third session: [{"activity": name from the intake, "score": 0-10}, ...].
    psfs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    psfs_mean: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    # New shortness of breath or chest pain since the session (pneumothorax warning signs).
    breathing_alert: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    alert_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alert_handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    session: Mapped[TreatmentSession] = relationship(back_populates="rating")
    patient: Mapped[Patient] = relationship()
    alert_handled_by: Mapped[User | None] = relationship()

    @property
    def follow_up_score(self) -> int:
        """The NPRS compared with the baseline (portal.outcomes)."""
        if self.score_question == "average_24h" and self.pain_average is not None:
            return self.pain_average
        return self.pain_now

    def __repr__(self) -> str:
        return f"<SessionRating {self.public_id}>"


class SafetyReport(Model):
    """The patient's safety check after a session, or a problem reported later (SPEC 4.2):
    the warning signs of pneumothorax (CLINICAL.md, "Dry needling / IMS precautions and
    consent"). Any "yes" is a red flag for the whole clinic (SPEC 5.1) until a practitioner
    acknowledges it with a note. ``kind`` is "check" (the safety question, answered yes or
    no) or "problem" (the patient's own report, from home, up to 7 days after a session).
    ``symptoms`` lists the codes answered yes (portal/treatment/safety.py)."""
    __tablename__ = "safety_reports"
    __table_args__ = (
        CheckConstraint("kind IN ('check', 'problem')", name="kind"),
        Index("ix_safety_reports_session", "session_id", "kind"),
        Index("ix_safety_reports_patient", "patient_id", "created_at"),
        # Red flags not acknowledged yet: the worklist's first section, the whole clinic's.
        Index("ix_safety_reports_open", "created_at",
              postgresql_where=text("alert IS TRUE AND acknowledged_at IS NULL"),
              sqlite_where=text("alert IS 1 AND acknowledged_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="check")
    symptoms: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    alert: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    session: Mapped[TreatmentSession | None] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<SafetyReport {self.public_id} {self.kind}>"


class TreatmentOutcome(Model):
    __tablename__ = "treatment_outcomes"
    __table_args__ = (
        UniqueConstraint("patient_id", name="uq_treatment_outcomes_patient_id"),
        CheckConstraint("status IN ('improved', 'unchanged', 'worse', 'unknown')",
                        name="status"),
        CheckConstraint("baseline_override IS NULL OR "
                        "(baseline_override >= 0 AND baseline_override <= 10)",
                        name="baseline_override"),
        Index("ix_treatment_outcomes_status", "status", "updated_at"),
        Index("ix_treatment_outcomes_worsening", "worsening", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    # The practitioner's baseline, used instead of the intake's when set.
    baseline_override: Mapped[int | None] = mapped_column(Integer)
    baseline_override_reason: Mapped[str | None] = mapped_column(Text)
    baseline_set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    baseline_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the classification used and said, as of updated_at.
    baseline: Mapped[int | None] = mapped_column(Integer)
    latest_nprs: Mapped[int | None] = mapped_column(Integer)
    rated_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="unknown")
    # The worsening alert (portal.outcomes): it can stand beside any status, a responder's
    # ("improved") included.
    worsening: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                            server_default=false())
    updated_at: Mapped[datetime] = created_at_column()

    patient: Mapped[Patient] = relationship()
    baseline_set_by: Mapped[User | None] = relationship()


class OutcomePoint(Model):
    """The patient's outcome as it stood just after each rated session (portal.outcomes
    CoursePoint), one row per rating of a session that counts, written by the treatment
    services with each outcome refresh. The clinic's outcome figures (SPEC 5.4) add these
    up instead of numbering every session of every patient at each request (SPEC 8.5);
    ``next_at`` is the time of the patient's next rated session (NULL on the row that is their
    outcome now), so that "the outcome at time T" is a range of rows: ``session_at < T`` and
    ``next_at`` NULL or at T or later."""
    __tablename__ = "outcome_points"
    __table_args__ = (
        UniqueConstraint("rating_id", name="uq_outcome_points_rating_id"),
        CheckConstraint("status IN ('improved', 'unchanged', 'worse', 'unknown')",
                        name="status"),
        # Each patient's course, and the ratings of a period, found by index.
        Index("ix_outcome_points_patient", "patient_id", "session_at"),
        Index("ix_outcome_points_session_at", "session_at"),
        # The whole clinic now: the current rows only, covering what is counted.
        Index("ix_outcome_points_current", "status", "first_improved", "worsening",
              postgresql_where=text("next_at IS NULL"),
              sqlite_where=text("next_at IS NULL")),
        # Mean change by session number, read from the index alone.
        Index("ix_outcome_points_change", "number", "change"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                            nullable=False)
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("session_ratings.id", ondelete="CASCADE"), nullable=False)
    session_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    pain: Mapped[int] = mapped_column(Integer, nullable=False)
    previous: Mapped[int | None] = mapped_column(Integer)
    change: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    worsening: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                            server_default=false())
    first_improved: Mapped[int | None] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer, nullable=False)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<OutcomePoint patient={self.patient_id} #{self.number} {self.status}>"
