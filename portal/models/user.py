"""Accounts: users, their one-time tokens, server-side sessions and recovery codes."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, created_at_column, public_id_column

if TYPE_CHECKING:
    from portal.models.patient import Patient

ROLES = ("patient", "practitioner", "admin")
STAFF_ROLES = ("practitioner", "admin")


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('patient', 'practitioner', 'admin')",
                                      name="role"),
                      # The staff lists, and the invitations not accepted yet (no password):
                      # a few rows among 100,000 patients.
                      Index("ix_users_role_password", "role", "password_hash"),
                      # Patients invited who have not set a password (the worklist). The
                      # conditions as SQLAlchemy writes them on each database, so that the
                      # planner sees that the query's imply the index's.
                      Index("ix_users_pending_patients", "id",
                            postgresql_where=text("role = 'patient' AND password_hash IS NULL "
                                                  "AND active IS TRUE"),
                            sqlite_where=text("role = 'patient' AND password_hash IS NULL "
                                              "AND active IS 1")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = public_id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = created_at_column()
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # TOTP secret, encrypted with the configured keys (portal.crypto).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Highest 30-second step already used: a code is accepted once (SPEC 1.7).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    invited_by: Mapped[User | None] = relationship(remote_side=[id])
    # A patient's account has its record; a staff account has none.
    patient: Mapped[Patient | None] = relationship(foreign_keys="Patient.user_id",
                                                   back_populates="user", uselist=False)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def get_id(self) -> str:
        return self.public_id

    def __repr__(self) -> str:
        return f"<User {self.public_id} {self.role}>"


class AccountToken(Model):
    """Single-use e-mailed links: invitations, password resets, e-mail confirmations.

    Only the SHA-256 of the token is stored; the token itself lives in the e-mail.
    """
    __tablename__ = "account_tokens"
    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset', 'confirm')",
                                      name="purpose"),
                      # Invitations not yet accepted, newest first (the worklist).
                      Index("ix_account_tokens_pending", "purpose", "used_at", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(10), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class UserSession(Model):
    """A signed-in browser. The cookie carries a random id; only its hash is here, so
    revoking the row ends the session for real (SPEC 1.4)."""
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship()


class BrowserSession(Model):
    """What one browser's session holds (Flask's ``session``: the sign-in it carries, the
    messages for its next page, the language chosen, a sign-in waiting for its second
    step), kept here so that the cookie carries nothing but a random id
    (portal.session_store). Only the id's SHA-256 is stored, and the data is encrypted
    with the configured keys. A row is written only once there is something to keep, and
    is swept once ``expires_at`` has passed."""
    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class RecoveryCode(Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
