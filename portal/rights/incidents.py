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
migration's trigger); every change is audited with what it replaced."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from babel import dates
from flask_babel import get_locale, get_timezone
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from portal import audit, clock, csvexport
from portal.extensions import db
from portal.models import Patient, PrivacyIncident, User
from portal.treatment.times import FUTURE_TOLERANCE, to_clinic

PAGE_SIZE = 20
CSV_BATCH = 500

# A patient's public id (portal.models.base.new_public_id: 12 random bytes, URL-safe
# base64, 16 characters). A word of 16 letters ("responsibilities") is one only if it
# also holds a digit or a capital after its first character, as nearly every random id does.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16}")
_SEPARATORS = re.compile(r"[\s,;()\[\]]+")


def looks_like_public_id(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token)) and bool(re.search(r"[0-9]|.[A-Z]", token))


def named_ids(text: str | None) -> list[str]:
    """The patients' public ids typed in "whose records", in order, each once."""
    found: list[str] = []
    for token in _SEPARATORS.split(text or ""):
        token = token.strip(".:")
        if looks_like_public_id(token) and token not in found:
            found.append(token)
    return found


@dataclass(frozen=True)
class NamedPatient:
    public_id: str
    name: str | None
    # A disposed record keeps only its tombstone: nothing to open.
    disposed: bool


def named_patients(text: str | None) -> tuple[list[NamedPatient], list[str]]:
    """The patients whose public ids ``text`` names (one query), and the ids that match no
    patient."""
    ids = named_ids(text)
    if not ids:
        return [], []
    rows = {row.public_id: row for row in db.session.execute(
        select(Patient.public_id, Patient.status, User.name)
        .join(User, User.id == Patient.user_id).where(Patient.public_id.in_(ids)))}
    known = [NamedPatient(pid, rows[pid].name, rows[pid].status == "disposed")
             for pid in ids if pid in rows]
    return known, [pid for pid in ids if pid not in rows]


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
    """What is wrong, field by field: a code each (views.INCIDENT_ERRORS has the words),
    and for ``unknown_patients`` the ids no patient has."""

    def __init__(self, errors: dict[str, str], unknown: list[str] | None = None):
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.unknown = unknown or []


def check(data: IncidentData) -> None:
    """Raise IncidentInvalid unless ``data`` can be kept: no time in the future (a watch a
    few minutes ahead aside), nothing before the discovery that cannot precede it, the
    required texts given, the patients named by public id known."""
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
    unknown: list[str] = []
    if "records_affected" not in errors:
        _known, unknown = named_patients(data.records_affected)
        if unknown:
            errors["records_affected"] = "unknown_patients"
    if errors:
        raise IncidentInvalid(errors, unknown)


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


def _audit_value(value: Any) -> Any:
    """A previous value as the audit log keeps it: times on the clinic's wall clock."""
    if isinstance(value, datetime):
        return to_clinic(value).isoformat(timespec="minutes")
    return value


def update(actor: User, incident: PrivacyIncident, data: IncidentData) -> list[str]:
    """Change ``incident`` to ``data``; the fields changed (none: nothing written). The audit
    event keeps what each changed field was before (``was_<field>``); commits."""
    check(data)
    changed: list[str] = []
    before: dict[str, Any] = {}
    for name, value in _clean(data).items():
        old = getattr(incident, name)
        if old != value:
            changed.append(name)
            before[f"was_{name}"] = _audit_value(old)
            setattr(incident, name, value)
    if not changed:
        return []
    incident.updated_at = clock.now()
    incident.updated_by_id = actor.id
    audit.write("incident.updated", actor=actor, subject=incident.public_id,
                detail={"fields": changed, **before})
    db.session.commit()
    return changed


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
