"""The privacy incident register (SPEC 11.2): every breach of the clinic's safeguards is
recorded, kept and exported; none is ever deleted.

Sources: PIPEDA s. 10.1(1) (report to the Privacy Commissioner a breach that creates a real
risk of significant harm) and s. 10.1(3) (notify the individuals), s. 10.1(8) (the factors
of a real risk: the sensitivity of the information and the probability that it has been,
is being or will be misused) and s. 10.3 (a record of every breach); the Breach of Security
Safeguards Regulations (SOR/2018-64) s. 6 (each record kept at least 24 months after the
day the breach was found); Quebec's Act respecting the protection of personal information in
the private sector (Law 25) s. 3.8 (a register of confidentiality incidents). There is no
service that deletes an entry, and the database refuses a DELETE on the table (the
migration's trigger). Every change keeps the version it replaced in its own table
(``privacy_incident_versions``, never changed or deleted either); the audit log, whose
details hold no health data (portal/audit.py), says only which fields changed and the
version made."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from babel import dates
from flask_babel import get_locale, get_timezone
from sqlalchemy import CursorResult, and_, func, or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import aliased

from portal import audit, clock, csvexport
from portal.extensions import db
from portal.models import Patient, PrivacyIncident, User
from portal.models.rights import PrivacyIncidentVersion
from portal.treatment.times import FUTURE_TOLERANCE

PAGE_SIZE = 20
CSV_BATCH = 500

# A patient's public id (portal.models.base.new_public_id: 12 random bytes, URL-safe
# base64, 16 characters). Words are split on spaces, punctuation and the parts of an address
# (a chart's address pasted whole names its patient); a word of that shape is a patient's id
# only if a patient has it, and is the admin's words otherwise ("responsibilities").
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16}")
_SEPARATORS = re.compile(r"[\s,;()\[\]/?#=&]+")


def candidate_ids(text: str | None) -> list[str]:
    """The words of "whose records" shaped like a patient's public id, in order, each
    once."""
    found: list[str] = []
    for token in _SEPARATORS.split(text or ""):
        token = token.strip(".:")
        if _TOKEN.fullmatch(token) and token not in found:
            found.append(token)
    return found


@dataclass(frozen=True)
class NamedPatient:
    public_id: str
    name: str | None
    # A disposed record keeps only its tombstone: nothing to open.
    disposed: bool


def named_patients(text: str | None) -> list[NamedPatient]:
    """The patients whose public ids ``text`` names, in order (one query)."""
    ids = candidate_ids(text)
    if not ids:
        return []
    rows = {row.public_id: row for row in db.session.execute(
        select(Patient.public_id, Patient.status, User.name)
        .join(User, User.id == Patient.user_id).where(Patient.public_id.in_(ids)))}
    return [NamedPatient(pid, rows[pid].name, rows[pid].status == "disposed")
            for pid in ids if pid in rows]


# --- recording and editing ----------------------------------------------------------------

@dataclass(frozen=True)
class IncidentData:
    """An entry as typed: times aware (UTC), texts with spaces at either end removed."""
    discovered_at: datetime
    description: str
    records_affected: str
    real_risk: bool
    risk_reasoning: str
    occurred_at: datetime | None = None
    people_affected: int | None = None
    regulator_notified_at: datetime | None = None
    individuals_notified_at: datetime | None = None
    measures: str | None = None


FIELDS = ("discovered_at", "occurred_at", "description", "records_affected", "people_affected",
          "real_risk", "risk_reasoning", "regulator_notified_at", "individuals_notified_at",
          "measures")
_TIMES = ("discovered_at", "occurred_at", "regulator_notified_at", "individuals_notified_at")
_REQUIRED_TEXT = ("description", "records_affected", "risk_reasoning")


class IncidentInvalid(Exception):
    """What is wrong, field by field: a code each (views.INCIDENT_ERRORS has the words)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class IncidentConflict(Exception):
    """The entry was saved by someone else since the version the edit started from: nothing
    was changed."""


def check(data: IncidentData) -> None:
    """Raise IncidentInvalid unless ``data`` can be kept: no time in the future (a watch a
    few minutes ahead aside), nothing before the discovery that cannot precede it, the
    required texts given."""
    errors: dict[str, str] = {}
    latest = clock.now() + FUTURE_TOLERANCE
    for name in _TIMES:
        moment = getattr(data, name)
        if moment is not None and moment > latest:
            errors[name] = "future"
    if "occurred_at" not in errors and data.occurred_at and \
            data.occurred_at > data.discovered_at:
        errors["occurred_at"] = "after_discovery"
    for name in ("regulator_notified_at", "individuals_notified_at"):
        moment = getattr(data, name)
        if name not in errors and moment is not None and moment < data.discovered_at:
            errors[name] = "before_discovery"
    for name in _REQUIRED_TEXT:
        if not (getattr(data, name) or "").strip():
            errors[name] = "required"
    if data.people_affected is not None and data.people_affected < 0:
        errors["people_affected"] = "negative"
    if errors:
        raise IncidentInvalid(errors)


def _clean(data: IncidentData) -> dict[str, Any]:
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    for name in ("description", "records_affected", "risk_reasoning", "measures"):
        values[name] = (values[name] or "").strip() or None
    return values


def record(actor: User, data: IncidentData) -> PrivacyIncident:
    """A new entry, audited; commits."""
    check(data)
    incident = PrivacyIncident(**_clean(data), recorded_by_id=actor.id)
    db.session.add(incident)
    db.session.flush()
    audit.write("incident.recorded", actor=actor, subject=incident.public_id,
                detail={"real_risk": incident.real_risk})
    db.session.commit()
    return incident


def update(actor: User, incident: PrivacyIncident, data: IncidentData,
           version: int | None) -> list[str]:
    """Change ``incident`` to ``data``, an edit of its ``version``; the fields changed (none:
    nothing written). The version replaced is kept whole (PrivacyIncidentVersion); the
    audit event names the fields changed and the version made. IncidentConflict when the
    entry is no longer at ``version`` (someone else saved meanwhile); commits."""
    check(data)
    if version != incident.version:
        raise IncidentConflict()
    values = _clean(data)
    changed = [name for name, value in values.items() if getattr(incident, name) != value]
    if not changed:
        return []
    now = clock.now()
    kept = PrivacyIncidentVersion(incident_id=incident.id, version=version, edited_at=now,
                                  edited_by_id=actor.id,
                                  **{name: getattr(incident, name) for name in FIELDS})
    # Made only from the version the admin read: a concurrent edit that committed first has
    # moved the number on, and this one changes nothing.
    result = cast(CursorResult[Any], db.session.execute(
        sa_update(PrivacyIncident)
        .where(PrivacyIncident.id == incident.id, PrivacyIncident.version == version)
        .values(**{name: values[name] for name in changed}, version=version + 1,
                updated_at=now, updated_by_id=actor.id)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        raise IncidentConflict()
    db.session.add(kept)
    audit.write("incident.updated", actor=actor, subject=incident.public_id,
                detail={"fields": changed, "version": version + 1})
    db.session.commit()
    db.session.refresh(incident)
    return changed


@dataclass(frozen=True)
class EarlierVersion:
    """A version of an entry as it was, who made it and when, and when it was replaced and
    by whom (a name None: not known)."""
    version: int
    values: PrivacyIncidentVersion
    made_at: datetime
    made_by: str | None
    replaced_at: datetime
    replaced_by: str | None
    # What the version after it changed.
    fields_changed: frozenset[str]


def history(incident: PrivacyIncident) -> list[EarlierVersion]:
    """The entry's earlier versions, newest first (one query). Version 1 was made when the
    entry was recorded; each later one by the edit that replaced the version before it.
    ``fields_changed`` names what the next version changed."""
    editor = aliased(User)
    rows = db.session.execute(
        select(PrivacyIncidentVersion, editor.name)
        .outerjoin(editor, editor.id == PrivacyIncidentVersion.edited_by_id)
        .where(PrivacyIncidentVersion.incident_id == incident.id)
        .order_by(PrivacyIncidentVersion.version)).all()
    recorder = incident.recorded_by.name if incident.recorded_by else None
    out: list[EarlierVersion] = []
    made_at, made_by = incident.created_at, recorder
    for index, (kept, replaced_by) in enumerate(rows):
        following = rows[index + 1][0] if index + 1 < len(rows) else incident
        changed = frozenset(name for name in FIELDS
                            if getattr(kept, name) != getattr(following, name))
        out.append(EarlierVersion(kept.version, kept, made_at, made_by, kept.edited_at,
                                  replaced_by, changed))
        made_at, made_by = kept.edited_at, replaced_by
    return out[::-1]


# --- reading ------------------------------------------------------------------------------

def get(public_id: str) -> PrivacyIncident | None:
    return db.session.scalar(select(PrivacyIncident)
                             .where(PrivacyIncident.public_id == public_id))


def _outstanding():
    """A real risk of significant harm, and the regulator or the individuals not yet told
    (PIPEDA s. 10.1(1) and (3): "as soon as feasible")."""
    return and_(PrivacyIncident.real_risk.is_(True),
                or_(PrivacyIncident.regulator_notified_at.is_(None),
                    PrivacyIncident.individuals_notified_at.is_(None)))


def is_outstanding(incident) -> bool:
    return bool(incident.real_risk) and (incident.regulator_notified_at is None
                                         or incident.individuals_notified_at is None)


def outstanding_count() -> int:
    return db.session.scalar(select(func.count()).select_from(PrivacyIncident)
                             .where(_outstanding())) or 0


@dataclass(frozen=True)
class IncidentRow:
    public_id: str
    discovered_at: datetime
    description: str
    people_affected: int | None
    real_risk: bool
    regulator_notified_at: datetime | None
    individuals_notified_at: datetime | None

    @property
    def outstanding(self) -> bool:
        return is_outstanding(self)


@dataclass
class IncidentPage:
    rows: list[IncidentRow] = field(default_factory=list)
    # The public id to continue from (older entries), or None on the last page.
    older: str | None = None


def register_page(after: str | None = None, per_page: int = PAGE_SIZE) -> IncidentPage:
    """Newest discovered first (ties: newest entry first), keyset-paged: ``after`` is the
    public id of the last entry of the page before. Two statements, whatever the page holds."""
    stmt = select(PrivacyIncident.public_id, PrivacyIncident.discovered_at,
                  PrivacyIncident.description, PrivacyIncident.people_affected,
                  PrivacyIncident.real_risk, PrivacyIncident.regulator_notified_at,
                  PrivacyIncident.individuals_notified_at)
    if after:
        cursor = db.session.execute(select(PrivacyIncident.discovered_at, PrivacyIncident.id)
                                    .where(PrivacyIncident.public_id == after)).first()
        if cursor is None:
            return IncidentPage()
        stmt = stmt.where(or_(PrivacyIncident.discovered_at < cursor.discovered_at,
                              and_(PrivacyIncident.discovered_at == cursor.discovered_at,
                                   PrivacyIncident.id < cursor.id)))
    stmt = stmt.order_by(PrivacyIncident.discovered_at.desc(), PrivacyIncident.id.desc())
    rows = [IncidentRow(**row._asdict()) for row in db.session.execute(stmt.limit(per_page + 1))]
    more = len(rows) > per_page
    rows = rows[:per_page]
    return IncidentPage(rows, rows[-1].public_id if more and rows else None)


def record_export(actor: User) -> None:
    audit.write("incidents.exported", actor=actor)
    db.session.commit()


CSV_HEADER = ["id", "discovered", "occurred", "what_happened", "whose_records",
              "people_affected", "real_risk_of_significant_harm", "risk_reasoning",
              "regulator_notified", "individuals_notified", "notification_outstanding",
              "measures_taken", "recorded_by", "recorded", "last_changed_by", "last_changed"]


def incidents_csv(batch: int = CSV_BATCH) -> Iterator[str]:
    """Every entry as CSV (portal.csvexport: byte-order mark, cells safe from formulas),
    newest discovered first, times in the clinic's time zone with their offset. Plain
    values only, read after the request (portal.streaming)."""
    recorder, editor = aliased(User, name="recorder"), aliased(User, name="editor")
    stmt = (select(PrivacyIncident.public_id, PrivacyIncident.discovered_at,
                   PrivacyIncident.occurred_at, PrivacyIncident.description,
                   PrivacyIncident.records_affected, PrivacyIncident.people_affected,
                   PrivacyIncident.real_risk, PrivacyIncident.risk_reasoning,
                   PrivacyIncident.regulator_notified_at,
                   PrivacyIncident.individuals_notified_at, PrivacyIncident.measures,
                   recorder.email.label("recorded_by"), PrivacyIncident.created_at,
                   editor.email.label("updated_by"), PrivacyIncident.updated_at)
            .outerjoin(recorder, recorder.id == PrivacyIncident.recorded_by_id)
            .outerjoin(editor, editor.id == PrivacyIncident.updated_by_id)
            .order_by(PrivacyIncident.discovered_at.desc(), PrivacyIncident.id.desc())
            .execution_options(yield_per=batch))
    zone, locale = get_timezone(), get_locale()

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return dates.format_datetime(moment, "yyyy-MM-dd HH:mm ZZZZZ", tzinfo=zone,
                                     locale=locale)

    def rows():
        for row in db.session.execute(stmt):
            yield [row.public_id, when(row.discovered_at), when(row.occurred_at),
                   row.description, row.records_affected, row.people_affected,
                   "yes" if row.real_risk else "no", row.risk_reasoning,
                   when(row.regulator_notified_at), when(row.individuals_notified_at),
                   "yes" if is_outstanding(row) else "no", row.measures, row.recorded_by,
                   when(row.created_at), row.updated_by, when(row.updated_at)]

    return csvexport.stream(CSV_HEADER, rows())
