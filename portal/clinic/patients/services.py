"""The staff patient list and search (SPEC 5.2, 10 /clinic/patients/).

What the term is decides what it matches:

* a date, YYYY-MM-DD or the clinic's usual DD/MM/YYYY: the date of birth, exactly;
* a phone number (digits, with spaces, dashes, dots, brackets or a +): those digits
  anywhere in the phone number;
* anything else: every word of it, folded (lowercase, no accents), somewhere in the
  patient's search text (name, e-mail address, phone digits, date of birth).

All three read ``patients`` only: ``search_text`` is one denormalised column (see
portal.searchtext and portal.models.sync), under a pg_trgm trigram index on PostgreSQL,
which serves ``LIKE '%...%'``; SQLite scans that one column.

Two orders, both paginated by keyset (the cursor holds the last row's sort key and id,
never an offset, so rows added between two pages neither repeat nor push anyone off):

* ``activity``: last activity, newest first (index on last_activity_at, id);
* ``improved`` / ``worsened``: the NPRS change from the baseline (``pain_change``, negative
  is less pain), most improved or most worsened first; patients with no change to show yet
  come after, newest first. Each page is one statement: a UNION ALL of the two parts, each
  read in index order.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import CompoundSelect, Select, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from portal.audit_words import PATIENT_STATUSES
from portal.extensions import db
from portal.forms import MAX_DB_INT, db_int
from portal.models import Patient, User
from portal.models.patient import DISPOSED
from portal.patient_terms import parse_term, term_condition
from portal.searchtext import fold

__all__ = ["SORT_LABELS", "STATUS_LABELS", "PatientFilters", "fold", "search_patients"]

PAGE_SIZE = 25

STATUS_LABELS = PATIENT_STATUSES

SORT_LABELS = {
    "activity": _l("Latest activity"),
    "improved": _l("Pain: most improved"),
    "worsened": _l("Pain: most worsened"),
}
DEFAULT_SORT = "activity"

@dataclass(frozen=True)
class PatientFilters:
    q: str = ""
    status: str = ""
    practitioner: str = ""  # a staff member's public id
    sort: str = DEFAULT_SORT


@dataclass(frozen=True)
class PatientRow:
    id: int
    public_id: str
    name: str
    email: str
    status: str
    activity_at: datetime
    practitioner_name: str | None
    pain_change: int | None
    phone: str | None
    date_of_birth: date | None
    # The patient closed their account (SPEC 11.1): the record stays listed, marked.
    account_closed_at: datetime | None = None

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def phone_display(self) -> str | None:
        """North American numbers as 604-555-0123; others as their digits."""
        if self.phone and len(self.phone) == 10:
            return f"{self.phone[:3]}-{self.phone[3:6]}-{self.phone[6:]}"
        return self.phone


@dataclass
class PatientPage:
    rows: list[PatientRow]
    next_cursor: str | None


# --- cursors ------------------------------------------------------------------------------

def encode_cursor(sort: str, key: datetime | int | None, id_: int) -> str:
    shown = key.isoformat() if isinstance(key, datetime) else ("" if key is None else key)
    raw = f"{sort}|{shown}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: str) -> tuple[datetime | int | None, int] | None:
    """The (sort key, id) a cursor carries, or None when it is absent, not one of ours, or
    made for another order (the list then starts again from its first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        made_for, key, id_ = raw.split("|")
        if made_for != sort:
            return None
        row_id = db_int(id_)
        if row_id is None:
            return None
        if sort == "activity":
            when = datetime.fromisoformat(key)
            # In UTC now: an instant at the ends of the calendar has none (OverflowError).
            return (when.astimezone(UTC), row_id) if when.tzinfo else None
        change = int(key) if key else None
        return (change, row_id) if change is None or abs(change) <= MAX_DB_INT else None
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None


# --- the query ----------------------------------------------------------------------------

def staff_choices() -> list[tuple[str, str]]:
    return [(u.public_id, u.name) for u in db.session.execute(
        select(User.public_id, User.name)
        .where(User.role.in_(("practitioner", "admin")), User.password_hash.is_not(None))
        .order_by(User.name, User.id))]


def _filtered(filters: PatientFilters) -> Select:
    practitioner = aliased(User, name="practitioner")
    stmt = (select(Patient.id, Patient.public_id, User.name, User.email, Patient.status,
                   Patient.last_activity_at.label("activity_at"),
                   practitioner.name.label("practitioner_name"), Patient.pain_change,
                   Patient.phone, Patient.date_of_birth, Patient.account_closed_at)
            .join(User, User.id == Patient.user_id)
            .outerjoin(practitioner, practitioner.id == Patient.practitioner_id))
    condition = term_condition(parse_term(filters.q))
    if condition is not None:
        # A record disposed of has nothing a term can match (no search text, phone or
        # date of birth left): the term alone keeps it out.
        stmt = stmt.where(condition)
    elif not filters.status:
        stmt = stmt.where(Patient.status != DISPOSED)
    if filters.status:
        stmt = stmt.where(Patient.status == filters.status)
    if filters.practitioner:
        stmt = stmt.where(Patient.practitioner_id == select(User.id).where(
            User.public_id == filters.practitioner).scalar_subquery())
    return stmt


def _rows(stmt) -> list[PatientRow]:
    return [PatientRow(**{k: v for k, v in row._asdict().items() if k != "part"})
            for row in db.session.execute(stmt)]


# A page's rows, and how to read the sort key of a row (for the next page's cursor).
RowsAndKey = tuple[list[PatientRow], Callable[[PatientRow], Any]]


def _by_activity(stmt: Select, after, limit: int) -> RowsAndKey:
    if after is not None:
        when, id_ = after
        # The first condition is redundant; it gives the index a range to start from.
        stmt = stmt.where(Patient.last_activity_at <= when,
                          or_(Patient.last_activity_at < when, Patient.id < id_))
    stmt = stmt.order_by(Patient.last_activity_at.desc(), Patient.id.desc()).limit(limit)
    rows = _rows(stmt)
    return rows, (lambda row: row.activity_at)


def _by_pain_change(stmt: Select, after, limit: int, improved: bool) -> RowsAndKey:
    """Known changes in the chosen direction, then the patients without one, newest first:
    both parts in one statement, each taken in index order; the page is put together here."""
    unknown = stmt.where(Patient.pain_change.is_(None))
    known = stmt.where(Patient.pain_change.is_not(None))
    change, after_id = after if after is not None else (None, None)
    unknown_only = after is not None and change is None  # already among those without one
    if unknown_only:
        unknown = unknown.where(Patient.id < after_id)
    elif after is not None:
        if improved:
            known = known.where(Patient.pain_change >= change,
                                or_(Patient.pain_change > change, Patient.id > after_id))
        else:
            known = known.where(Patient.pain_change <= change,
                                or_(Patient.pain_change < change, Patient.id < after_id))
    # pain_change is NULL throughout this part: ordering by it changes nothing, but tells
    # PostgreSQL that the index on (pain_change, id) is already in this order.
    unknown = (unknown.add_columns(literal(1).label("part"))
               .order_by(Patient.pain_change.desc(), Patient.id.desc()).limit(limit))
    statement: Select | CompoundSelect
    if unknown_only:
        statement = unknown
    else:
        order = ((Patient.pain_change.asc(), Patient.id.asc()) if improved
                 else (Patient.pain_change.desc(), Patient.id.desc()))
        known = known.add_columns(literal(0).label("part")).order_by(*order).limit(limit)
        statement = union_all(select(known.subquery()), select(unknown.subquery()))
    rows = _rows(statement)
    sign = 1 if improved else -1
    rows.sort(key=lambda r: (0, sign * r.pain_change, sign * r.id) if r.pain_change is not None
              else (1, 0, -r.id))
    return rows, (lambda row: row.pain_change)


def search_patients(filters: PatientFilters, cursor: str | None = None,
                    per_page: int = PAGE_SIZE) -> PatientPage:
    """One statement per page, whatever the number of patients."""
    sort = filters.sort if filters.sort in SORT_LABELS else DEFAULT_SORT
    stmt = _filtered(filters)
    after = decode_cursor(cursor, sort)
    if sort == "activity":
        rows, key = _by_activity(stmt, after, per_page + 1)
    else:
        rows, key = _by_pain_change(stmt, after, per_page + 1, improved=sort == "improved")
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_cursor = encode_cursor(sort, key(rows[-1]), rows[-1].id) if more else None
    return PatientPage(rows, next_cursor)
