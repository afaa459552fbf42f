"""The staff patient list and search (SPEC 5.2, 10 /clinic/patients/).

Matching is case- and accent-insensitive on the name and e-mail address: the term is folded
in Python (lowercase, accents removed) and the columns by the same folding in SQL: on SQLite
the Python function itself, registered on each connection; on PostgreSQL ``translate`` and
``lower``. The models hold
no phone number or date of birth, so neither is searched.

Results are sorted by last activity (newest first, then id) and paginated by keyset: the
cursor is the last row's (activity, id), never an offset.
"""
from __future__ import annotations

import base64
import binascii
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, event, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.models import Patient, User
from portal.models.base import UTCDateTime

PAGE_SIZE = 25

STATUS_LABELS = {
    "invited": _l("Invited"),
    "intake_in_progress": _l("Intake in progress"),
    "intake_submitted": _l("Intake submitted"),
    "cleared": _l("Cleared"),
    "in_treatment": _l("In treatment"),
    "discharged": _l("Discharged"),
}

# Letters that lose their accent, for PostgreSQL's translate(); uppercase too, because lower()
# is ASCII-only under some locales.
_PLAIN = {"a": "àâäáãå", "c": "ç", "e": "éèêë", "i": "íìîï", "n": "ñ", "o": "óòôöõ",
          "u": "úùûü", "y": "ýÿ"}
_FROM = "".join(accented + accented.upper() for accented in _PLAIN.values())
_TO = "".join(plain * (2 * len(accented)) for plain, accented in _PLAIN.items())


def fold(text_: str | None) -> str:
    """Lowercase, without accents: the form both sides of a match are compared in."""
    text_ = (text_ or "").lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text_)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _fold_sql(FunctionElement):
    """fold() in SQL: PostgreSQL's translate(), or fold() itself registered in SQLite."""
    type = String()
    inherit_cache = True


@compiles(_fold_sql)
def _fold_sqlite(element, compiler, **kw):
    return f"portal_fold({compiler.process(element.clauses, **kw)})"


@compiles(_fold_sql, "postgresql")
def _fold_postgresql(element, compiler, **kw):
    inner = compiler.process(element.clauses, **kw)
    return (f"replace(replace(lower(translate({inner}, '{_FROM}', '{_TO}')), "
            "'œ', 'oe'), 'æ', 'ae')")


@event.listens_for(Engine, "connect")
def _register_fold(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("portal_fold", 1, fold, deterministic=True)


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class PatientFilters:
    q: str = ""
    status: str = ""
    practitioner: str = ""  # a staff member's public id


@dataclass(frozen=True)
class PatientRow:
    id: int
    public_id: str
    name: str
    email: str
    status: str
    activity_at: datetime
    practitioner_name: str | None

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))


@dataclass
class PatientPage:
    rows: list[PatientRow]
    next_cursor: str | None


def encode_cursor(activity_at: datetime, id_: int) -> str:
    raw = f"{activity_at.isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (activity, id) a cursor carries, or None when it is absent or not one of ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, id_ = raw.split("|")
        when = datetime.fromisoformat(stamp)
        return (when, int(id_)) if when.tzinfo else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def staff_choices() -> list[tuple[str, str]]:
    return [(u.public_id, u.name) for u in db.session.execute(
        select(User.public_id, User.name)
        .where(User.role.in_(("practitioner", "admin")), User.password_hash.is_not(None))
        .order_by(User.name, User.id))]


def search_patients(filters: PatientFilters, cursor: str | None = None,
                    per_page: int = PAGE_SIZE) -> PatientPage:
    """One statement per page, whatever the number of patients."""
    practitioner = aliased(User, name="practitioner")
    activity = func.coalesce(Patient.last_activity_at, Patient.created_at,
                             type_=UTCDateTime()).label("activity_at")
    stmt = (select(Patient.id, Patient.public_id, User.name, User.email, Patient.status,
                   activity, practitioner.name.label("practitioner_name"))
            .join(User, User.id == Patient.user_id)
            .outerjoin(practitioner, practitioner.id == Patient.practitioner_id))
    term = fold(filters.q.strip())
    if term:
        pattern = _like(term)
        stmt = stmt.where(or_(_fold_sql(User.name).like(pattern, escape="\\"),
                              _fold_sql(User.email).like(pattern, escape="\\")))
    if filters.status:
        stmt = stmt.where(Patient.status == filters.status)
    if filters.practitioner:
        stmt = stmt.where(practitioner.public_id == filters.practitioner)
    after = decode_cursor(cursor)
    if after is not None:
        when, id_ = after
        stmt = stmt.where(or_(activity < when, and_(activity == when, Patient.id < id_)))
    stmt = stmt.order_by(activity.desc(), Patient.id.desc()).limit(per_page + 1)
    rows = [PatientRow(**row._asdict()) for row in db.session.execute(stmt)]
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_cursor = encode_cursor(rows[-1].activity_at, rows[-1].id) if more else None
    return PatientPage(rows, next_cursor)
