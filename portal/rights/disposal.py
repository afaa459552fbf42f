"""Disposal of a record at the end of its retention period (SPEC 11.2).

The periodic task lists the records whose period has ended (portal.rights.retention). An
admin approves the disposal of some or all of them, either typing how many (disposed at
once) or asking a second admin, who confirms; the admin who approved cannot confirm. Each
record is disposed of in its own transaction, after its patient row is locked and the rules
checked again (a legal hold placed meanwhile, a visit since the listing).

Disposal deletes the patient's clinical data and its stored files, ends the account and
blanks what identifies the person. What stays: the patient row (the audit trail refers to
it) with its public id, status "disposed" and nothing personal; the audit trail, which is
append-only and never rewritten; the requests register's dates (its free text blanked);
and the tombstone, the RecordDisposal row with the dates and who approved and confirmed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from flask.json.tag import TaggedJSONSerializer
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import aliased

from portal import audit, clock, crypto, storage
from portal.extensions import db
from portal.models import (
    AccountToken,
    BrowserSession,
    ConsentDiscussion,
    ConsentSignature,
    Document,
    FollowUp,
    IntakeAmendment,
    IntakeResponse,
    IntakeStash,
    OutboxMessage,
    OutcomePoint,
    Patient,
    RecordDisposal,
    RecordRequest,
    RecoveryCode,
    SafetyReport,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
    UserSession,
)
from portal.models.patient import DISPOSED
from portal.rights.retention import retention_ends_on
from portal.treatment.times import clinic_date

SHOWN = 200
PENDING = ("listed", "approved")


class DisposalError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- what the page shows --------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    disposal: RecordDisposal
    name: str | None  # while the record exists; a tombstone has none
    approved_by: str | None
    confirmed_by: str | None


@dataclass
class Schedule:
    listed: list[Row] = field(default_factory=list)
    approved: list[Row] = field(default_factory=list)
    disposed: list[Row] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def schedule(limit: int = SHOWN) -> Schedule:
    """The records awaiting disposal, those waiting for a second admin, and the tombstones
    (newest first), at most ``limit`` of each, with how many there are."""
    counts: dict[str, int] = {row.status: row.n for row in db.session.execute(
        select(RecordDisposal.status, func.count().label("n"))
        .group_by(RecordDisposal.status))}
    result = Schedule(counts={s: counts.get(s, 0) for s in ("listed", "approved", "disposed")})
    approver, confirmer = aliased(User), aliased(User)
    for status, order in (("listed", RecordDisposal.retention_ends_on),
                          ("approved", RecordDisposal.approved_at),
                          ("disposed", RecordDisposal.disposed_at.desc())):
        rows = db.session.execute(
            select(RecordDisposal, User.name, approver.name, confirmer.name)
            .join(Patient, Patient.id == RecordDisposal.patient_id)
            .join(User, User.id == Patient.user_id)
            .outerjoin(approver, approver.id == RecordDisposal.approved_by_id)
            .outerjoin(confirmer, confirmer.id == RecordDisposal.confirmed_by_id)
            .where(RecordDisposal.status == status)
            .order_by(order, RecordDisposal.id).limit(limit)).all()
        getattr(result, status).extend(
            Row(d, name if status != "disposed" else None, a, c) for d, name, a, c in rows)
    return result


def waiting_count() -> int:
    """Records listed or approved, not yet disposed of (the admin home's badge)."""
    return db.session.scalar(select(func.count()).where(
        RecordDisposal.status.in_(PENDING))) or 0


def pending(public_ids: list[str]) -> list[RecordDisposal]:
    """The disposals named, in the order given; DisposalError("unknown") if one is not a
    disposal at all (the view answers 404)."""
    wanted = list(dict.fromkeys(public_ids))
    found = {d.public_id: d for d in db.session.scalars(
        select(RecordDisposal).where(RecordDisposal.public_id.in_(wanted)))}
    if len(found) != len(wanted):
        raise DisposalError("unknown")
    return [found[p] for p in wanted]


# --- approving and confirming -----------------------------------------------------------------

@dataclass
class Outcome:
    done: int = 0  # disposed, or approved
    skipped: int = 0  # held, disposed or cancelled meanwhile, or visited since


def approve_typed(admin: User, disposals: list[RecordDisposal], typed: int | None) -> Outcome:
    """Dispose of the listed records at once, the admin having typed how many."""
    if not disposals:
        raise DisposalError("none")
    if typed != len(disposals):
        raise DisposalError("count")
    outcome = Outcome()
    for disposal in disposals:
        if dispose(disposal, admin, admin, "typed_count", ("listed",)):
            outcome.done += 1
        else:
            outcome.skipped += 1
    return outcome


def ask_second_admin(admin: User, disposals: list[RecordDisposal]) -> Outcome:
    if not disposals:
        raise DisposalError("none")
    outcome = Outcome()
    for disposal in disposals:
        done = cast(CursorResult[Any], db.session.execute(
            update(RecordDisposal)
            .where(RecordDisposal.id == disposal.id, RecordDisposal.status == "listed")
            .values(status="approved", approved_at=clock.now(), approved_by_id=admin.id,
                    confirmation="second_admin"))).rowcount
        if done:
            audit.write("record.disposal_approved", patient=db.session.get(
                Patient, disposal.patient_id), actor=admin, subject=disposal.public_id)
            outcome.done += 1
        else:
            outcome.skipped += 1
        db.session.commit()
    return outcome


def confirm(admin: User, disposals: list[RecordDisposal]) -> Outcome:
    """A second admin confirms disposals approved by another."""
    if not disposals:
        raise DisposalError("none")
    if any(d.approved_by_id == admin.id for d in disposals):
        raise DisposalError("own_approval")
    outcome = Outcome()
    for disposal in disposals:
        approver = db.session.get(User, disposal.approved_by_id) \
            if disposal.approved_by_id else None
        if approver is not None and dispose(disposal, approver, admin, "second_admin",
                                            ("approved",)):
            outcome.done += 1
        else:
            outcome.skipped += 1
    return outcome


def withdraw_approval(admin: User, disposals: list[RecordDisposal]) -> int:
    """Back to the list: an approval no second admin should confirm."""
    done = 0
    for disposal in disposals:
        if cast(CursorResult[Any], db.session.execute(
                update(RecordDisposal)
                .where(RecordDisposal.id == disposal.id, RecordDisposal.status == "approved")
                .values(status="listed", approved_at=None, approved_by_id=None,
                        confirmation=None))).rowcount:
            audit.write("record.disposal_approval_withdrawn",
                        patient=db.session.get(Patient, disposal.patient_id), actor=admin,
                        subject=disposal.public_id)
            done += 1
        db.session.commit()
    return done


# --- disposal ------------------------------------------------------------------------------------

def lock_patient(patient_id: int) -> Patient | None:
    """The patient row, locked until the transaction ends, and read again (SQLite: the
    write lock of the whole database, taken by a write that changes nothing)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    else:
        db.session.execute(update(Patient).where(Patient.id == patient_id)
                           .values(id=Patient.id))
    patient = db.session.get(Patient, patient_id)
    if patient is not None:
        db.session.refresh(patient)
    return patient


def has_open_request(patient_id: int) -> bool:
    """An access or correction request not yet answered: the record is kept until it is
    (PHIPA s. 13(2): information that is the subject of a request is retained as long as
    needed for the individual to exhaust any recourse)."""
    return db.session.scalar(select(RecordRequest.id).where(
        RecordRequest.patient_id == patient_id,
        RecordRequest.answered_at.is_(None)).limit(1)) is not None


def dispose(disposal: RecordDisposal, approved_by: User, confirmed_by: User,
            confirmation: str, from_status: tuple[str, ...]) -> bool:
    """Dispose of one record in its own transaction; False (and nothing done but perhaps
    the listing cancelled) when it may not be disposed of any more."""
    db.session.commit()  # whatever came before is not part of this patient's transaction
    patient = lock_patient(disposal.patient_id)
    db.session.refresh(disposal)
    if patient is None or patient.status == DISPOSED or disposal.status not in from_status:
        db.session.rollback()
        return False
    if has_open_request(patient.id):
        db.session.rollback()
        return False
    today = clinic_date(clock.now())
    if patient.legal_hold or retention_ends_on(patient) > today:
        disposal.status = "cancelled"
        disposal.cancelled_at = clock.now()
        audit.write("record.disposal_cancelled", patient=patient, actor=confirmed_by,
                    subject=disposal.public_id,
                    detail={"reason": "legal_hold" if patient.legal_hold else "visited"})
        db.session.commit()
        return False
    erase(patient)
    now = clock.now()
    disposal.status = "disposed"
    disposal.approved_at = disposal.approved_at or now
    disposal.approved_by_id = approved_by.id
    disposal.confirmation = confirmation
    disposal.confirmed_at = now
    disposal.confirmed_by_id = confirmed_by.id
    disposal.disposed_at = now
    audit.write("record.disposed", patient=patient, actor=confirmed_by,
                subject=disposal.public_id,
                detail={"approved_by": approved_by.email, "confirmation": confirmation,
                        "retention_ended_on": disposal.retention_ends_on.isoformat()})
    db.session.commit()  # the directory storage removes the files once this has committed
    return True


def _delete(model, *where) -> None:
    db.session.execute(delete(model).where(*where).execution_options(
        synchronize_session=False))


def erase(patient: Patient) -> None:
    """Delete the patient's clinical data and blank what identifies them, in the caller's
    transaction."""
    pid, user = patient.id, patient.user
    store = storage.get_storage()
    for keys in db.session.execute(select(Document.blob_key, Document.preview_key,
                                          Document.original_key)
                                   .where(Document.patient_id == pid)):
        for key in keys:
            if key:
                store.delete(key)
    db.session.execute(update(RecordRequest).where(RecordRequest.patient_id == pid)
                       .values(detail=None, response=None, extension_reason=None,
                               amendment_id=None))
    responses = select(IntakeResponse.id).where(IntakeResponse.patient_id == pid)
    for model in (OutcomePoint, SafetyReport, SessionRating, TreatmentOutcome,
                  TreatmentSession, FollowUp, ConsentDiscussion, ConsentSignature):
        _delete(model, model.patient_id == pid)
    _delete(IntakeAmendment, IntakeAmendment.response_id.in_(responses))
    _delete(IntakeStash, IntakeStash.patient_id == pid)
    _delete(IntakeResponse, IntakeResponse.patient_id == pid)
    db.session.execute(update(Document).where(Document.patient_id == pid)
                       .values(replaces_id=None))
    _delete(Document, Document.patient_id == pid)
    _end_account(user)
    patient.phone = None
    patient.date_of_birth = None
    patient.pain_change = None
    patient.legal_hold_reason = None
    patient.status = DISPOSED
    patient.disposed_at = clock.now()
    db.session.flush()
    # After the flush: portal.models.sync fills the search text from the blanked user.
    db.session.execute(update(Patient).where(Patient.id == pid).values(search_text=""))
    db.session.expire(patient)
    db.session.expire_all()


def _end_account(user: User) -> None:
    uid, email = user.id, user.email
    _drop_browser_sessions(set(db.session.scalars(
        select(UserSession.token_hash).where(UserSession.user_id == uid))))
    for model in (UserSession, RecoveryCode, AccountToken):
        _delete(model, model.user_id == uid)
    _delete(OutboxMessage, func.lower(OutboxMessage.to_addr) == email.lower())
    patient = user.patient
    assert patient is not None  # only patients' accounts are disposed of
    user.email = f"disposed-{patient.public_id}@invalid.example"
    user.name = ""
    user.password_hash = None
    user.active = False
    user.locale = None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.email_confirmed_at = None
    user.last_login_at = None
    user.locked_until = None
    user.failed_logins = 0


_SERIALIZER = TaggedJSONSerializer()


def browser_session_sids(batch: int = 500):
    """(id hash, the sign-in's session id or None) of every stored browser session: only
    the encrypted data says which sign-in a browser carries."""
    after = ""
    while True:
        rows = db.session.execute(select(BrowserSession.id_hash, BrowserSession.data)
                                  .where(BrowserSession.id_hash > after)
                                  .order_by(BrowserSession.id_hash).limit(batch)).all()
        if not rows:
            return
        after = rows[-1].id_hash
        for row in rows:
            try:
                data = _SERIALIZER.loads(crypto.decrypt(row.data).decode())
            except Exception:  # unreadable with today's keys: carries nothing we can use
                data = {}
            sid = data.get("sid") if isinstance(data, dict) else None
            yield row.id_hash, sid if isinstance(sid, str) else None


def _drop_browser_sessions(token_hashes: set[str]) -> None:
    if not token_hashes:
        return
    doomed = [id_hash for id_hash, sid in browser_session_sids()
              if sid and crypto.token_hash(sid) in token_hashes]
    if doomed:
        _delete(BrowserSession, BrowserSession.id_hash.in_(doomed))
