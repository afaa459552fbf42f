"""The requests register (SPEC 11.2): every access and correction request with its dates,
for the admin; requests received outside the portal (by mail, phone or at the desk), access
requests answered, and a due date extended once with a reason the patient is told.

Ontario's PHIPA s. 54(2)-(4) (access) and s. 55(3)-(4) (correction): an answer within 30
days of receipt, extendable once by up to 30 more with written notice to the individual
giving the length of the extension and its reason. Due dates: portal/rights/dates.py."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast

from babel import dates
from flask_babel import get_locale, get_timezone
from sqlalchemy import CursorResult, Select, func, or_, select, update
from sqlalchemy.orm import aliased, contains_eager

from portal import audit, clock, mail
from portal.extensions import db
from portal.links import absolute_url
from portal.models import Patient, RecordRequest, User
from portal.rights.dates import ANSWER_WITHIN_DAYS, due_at_for
from portal.treatment.times import clinic_date, clinic_datetime, to_clinic

STATES = ("open", "overdue", "all")
PAGE_SIZE = 50
EXTENSION_DAYS = 30  # PHIPA s. 54(3), s. 55(3): "a period of not more than 30 days"
# A request entered by staff with its date of receipt is stamped at noon on that day (the
# hour is not known; the due date counts from the date).
RECEIVED_HOUR = time(12, 0)


class AlreadyDone(Exception):
    """Answered already, or extended already: nothing changed."""


class TooLate(Exception):
    """The 30 days to answer have passed: the due date can no longer be extended (PHIPA
    s. 54(3)-(4): the time limit is extended, with written notice, before it runs out)."""


class BeforeReceipt(Exception):
    """A request cannot have been answered before the clinic received it."""


@dataclass(frozen=True)
class Filters:
    state: str = "open"
    kind: str = ""  # "", "access", "correction"


def _conditions(filters: Filters, now: datetime) -> list:
    out: list = []
    if filters.state in ("open", "overdue"):
        out.append(RecordRequest.answered_at.is_(None))
    if filters.state == "overdue":
        out.append(RecordRequest.due < now)
    if filters.kind:
        out.append(RecordRequest.kind == filters.kind)
    return out


def _listed(filters: Filters) -> Select:
    return (select(RecordRequest).join(RecordRequest.patient).join(Patient.user)
            .where(*_conditions(filters, clock.now()))
            .options(contains_eager(RecordRequest.patient).contains_eager(Patient.user))
            .order_by(RecordRequest.received_at.desc(), RecordRequest.id.desc()))


def register_page(filters: Filters, page: int = 1,
                  size: int = PAGE_SIZE) -> tuple[list[RecordRequest], bool]:
    """One page of the register, newest first, in one statement; and whether there is a
    next page (one row more is read)."""
    rows = list(db.session.scalars(_listed(filters).offset((page - 1) * size)
                                   .limit(size + 1)))
    return rows[:size], len(rows) > size


def overdue_count() -> int:
    """Requests past their due date and not answered (the admin home)."""
    return db.session.scalar(select(func.count()).select_from(RecordRequest).where(
        *_conditions(Filters("overdue"), clock.now()))) or 0


CSV_HEADER = ("request", "kind", "patient", "name", "channel", "subject", "received",
              "due", "extended_due", "extension_reason", "answered", "outcome")


def register_csv(filters: Filters) -> Iterator[tuple[Any, ...]]:
    """The register's rows as plain values (portal/streaming.py), dates and times on the
    clinic's wall clock. No free text of the patient's (their words stay in the portal)."""
    stmt = (select(RecordRequest.public_id, RecordRequest.kind, Patient.public_id, User.name,
                   RecordRequest.channel, RecordRequest.subject, RecordRequest.received_at,
                   RecordRequest.due_at, RecordRequest.extended_due_at,
                   RecordRequest.extension_reason, RecordRequest.answered_at,
                   RecordRequest.outcome)
            .join(Patient, Patient.id == RecordRequest.patient_id)
            .join(User, User.id == Patient.user_id)
            .where(*_conditions(filters, clock.now()))
            .order_by(RecordRequest.received_at.desc(), RecordRequest.id.desc()))

    zone, locale = get_timezone(), get_locale()

    def local(value: datetime | None) -> str:
        """On the clinic's wall clock with its offset, as the incident and audit CSVs."""
        return dates.format_datetime(value, "yyyy-MM-dd HH:mm ZZZZZ", tzinfo=zone,
                                     locale=locale) if value else ""

    for row in db.session.execute(stmt).yield_per(500):
        yield (*row[:6], local(row[6]), local(row[7]), local(row[8]), row[9] or "",
               local(row[10]), row[11] or "")


def record_export(admin: User, filters: Filters) -> None:
    audit.write("requests.exported", actor=admin,
                detail={"status": filters.state, "kind": filters.kind or "all"})
    db.session.commit()


# --- finding a patient ----------------------------------------------------------------------

def find_patients(query: str, limit: int = 10) -> list[Patient]:
    """Patients by public id or e-mail address (exactly), or by a part of their name."""
    query = query.strip()
    if not query:
        return []
    owner = aliased(User)
    exact = list(db.session.scalars(
        select(Patient).join(owner, owner.id == Patient.user_id)
        .where(or_(Patient.public_id == query, func.lower(owner.email) == query.lower()),
               Patient.disposed_at.is_(None)).limit(2)))
    if exact:
        return exact
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(db.session.scalars(
        select(Patient).join(owner, owner.id == Patient.user_id)
        .where(owner.name.ilike(pattern, escape="\\"), Patient.disposed_at.is_(None))
        .options(contains_eager(Patient.user.of_type(owner)))
        .order_by(owner.name, Patient.id).limit(limit)))


# --- what the admin does ------------------------------------------------------------------

def enter_request(admin: User, patient: Patient, kind: str, received_on: date,
                  detail: str | None) -> RecordRequest:
    """A request received by mail, phone or at the desk, entered with its date of receipt
    (today: now)."""
    now = clock.now()
    received_at = now if received_on >= to_clinic(now).date() else clinic_datetime(
        received_on, RECEIVED_HOUR)
    req = RecordRequest(patient_id=patient.id, kind=kind, channel="clinic", detail=detail,
                        received_at=received_at, due_at=due_at_for(received_at),
                        created_by_id=admin.id)
    db.session.add(req)
    db.session.flush()
    audit.write("request.entered", patient=patient, actor=admin, subject=req.public_id,
                detail={"kind": kind})
    db.session.commit()
    return req


def request_by_id(public_id: str) -> RecordRequest | None:
    return db.session.scalar(select(RecordRequest).where(RecordRequest.public_id == public_id))


def _changed(stmt) -> bool:
    result = cast(CursorResult[Any], db.session.execute(
        stmt.execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    return True


def mark_provided(admin: User, req: RecordRequest, provided_on: date) -> None:
    """An access request answered: the record was given on ``provided_on`` (clinic date;
    today: now). Not before the day it was received (BeforeReceipt); once (AlreadyDone)."""
    now = clock.now()
    if provided_on < clinic_date(req.received_at):
        raise BeforeReceipt()
    at = now if provided_on >= to_clinic(now).date() else clinic_datetime(provided_on,
                                                                           RECEIVED_HOUR)
    # Given the day it came in: never stamped before it came in.
    at = max(at, req.received_at)
    if not _changed(update(RecordRequest).where(
            RecordRequest.id == req.id, RecordRequest.kind == "access",
            RecordRequest.answered_at.is_(None))
            .values(answered_at=at, answered_by_id=admin.id, outcome="provided")):
        raise AlreadyDone()
    audit.write("request.access_provided", patient=req.patient, actor=admin,
                subject=req.public_id, detail={"kind": "access"})
    db.session.commit()
    db.session.refresh(req)


def extend(admin: User, req: RecordRequest, reason: str) -> bool:
    """The due date moved once, to 30 more days (the end of the clinic's 60th day after
    receipt), with the reason, while the request is not answered (AlreadyDone) and its 30
    days have not run out (TooLate). The patient is told by e-mail, with the new date and
    the reason (written for the patient, without health details: the form says so), when
    the portal can write to them; whether it could is the answer, and the audit event's
    ``emailed`` (if not, the clinic sends the written notice another way)."""
    now = clock.now()
    new_due = due_at_for(req.received_at, ANSWER_WITHIN_DAYS + EXTENSION_DAYS)
    if not _changed(update(RecordRequest).where(
            RecordRequest.id == req.id, RecordRequest.extended_due_at.is_(None),
            RecordRequest.answered_at.is_(None), RecordRequest.due_at >= now)
            .values(extended_due_at=new_due, extension_reason=reason)):
        db.session.refresh(req)
        if req.extended_due_at is None and req.answered_at is None:
            raise TooLate()
        raise AlreadyDone()
    user = req.patient.user
    emailed = bool(user is not None and user.email and user.active and mail.queue(
        "request_extended", user.email, user.locale, name=user.name, due=new_due,
        reason=reason, link=absolute_url("rights.record")))
    audit.write("request.extended", patient=req.patient, actor=admin, subject=req.public_id,
                detail={"kind": req.kind, "emailed": emailed})
    db.session.commit()
    db.session.refresh(req)
    return emailed


def can_extend(req: RecordRequest, now: datetime | None = None) -> bool:
    return (req.answered_at is None and req.extended_due_at is None
            and req.due_at >= (now or clock.now()))


def is_overdue(req: RecordRequest, now: datetime | None = None) -> bool:
    return req.answered_at is None and req.due < (now or clock.now())
