"""Column helpers shared by every model."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from portal import clock
from portal.extensions import db

if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel
    from sqlalchemy import Table

    from portal.extensions import Base

    class Model(_FlaskModel, Base):
        """What ``db.Model`` is at run time: Flask-SQLAlchemy builds it from ``Base`` and
        its own mixins when the extension is created, which a type checker cannot follow."""
        __abstract__ = True
        # Every model here is declared with __tablename__: a Table, not any FromClause.
        __table__: ClassVar[Table]
else:
    Model = db.Model


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite hands back naive values)."""
    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True):
        super().__init__(timezone=timezone)

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def new_public_id() -> str:
    """Random, opaque, URL-safe identifier (96 bits); never a sequential number."""
    return secrets.token_urlsafe(12)


def public_id_column() -> Mapped[str]:
    return mapped_column(String(32), unique=True, nullable=False, default=new_public_id)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=clock.now)
