"""Disposal of a record at the end of its retention period (SPEC 11.2).

The periodic task lists the records whose period has ended (portal.rights.retention). An
admin approves the disposal of some or all of them, either typing how many (disposed at
once) or asking a second admin, who confirms; the admin who approved cannot confirm. Each
record is approved and disposed of in its own transaction, after its patient row and its
disposal are locked and the rules checked again (portal.rights.retention.due: a legal hold
placed meanwhile, a visit or care resumed since the listing; and who approved, as the row
says now).

Disposal deletes the patient's clinical data and its stored files, ends the account and
blanks what identifies the person. What stays: the patient row (the audit trail refers to
it) with its public id, status "disposed", when it was opened, discharged and disposed of,
and nothing personal; the audit trail, which is
append-only and never rewritten; the requests register's dates (its free text blanked);
and the tombstone, the RecordDisposal row with the dates and who approved and confirmed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import aliased

from portal import audit, clock, crypto, session_store, storage
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
from portal.rights.retention import IN_CARE, due, has_open_request, lock_patient
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
    # While the record exists: where the patient stands and their last activity, and
    # whether they came back since the listing (in care again, or active since their last
    # visit): disposal would cancel the listing, so the page does not tick it.
    status: str | None = None
    last_activity_at: datetime | None = None

    @property
    def back(self) -> bool:
        return self.status in IN_CARE or (
            self.last_activity_at is not None
            and self.last_activity_at > self.disposal.last_visit_at)


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
            select(RecordDisposal, User.name, approver.name, confirmer.name, Patient.status,
                   Patient.last_activity_at)
            .join(Patient, Patient.id == RecordDisposal.patient_id)
            .join(User, User.id == Patient.user_id)
            .outerjoin(approver, approver.id == RecordDisposal.approved_by_id)
            .outerjoin(confirmer, confirmer.id == RecordDisposal.confirmed_by_id)
            .where(RecordDisposal.status == status)
            .order_by(order, RecordDisposal.id).limit(limit)).all()
        getattr(result, status).extend(
            Row(d, name, a, c, state, active) if status != "disposed" else Row(d, None, a, c)
            for d, name, a, c, state, active in rows)
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
        if dispose(disposal, admin, "typed_count", ("listed",)):
            outcome.done += 1
        else:
            outcome.skipped += 1
    return outcome


def ask_second_admin(admin: User, disposals: list[RecordDisposal]) -> Outcome:
    """Approve the listed records' disposal, for a second admin to confirm: each checked
    again under its patient's lock, as disposal does (``_locked``)."""
    if not disposals:
        raise DisposalError("none")
    outcome = Outcome()
    for disposal in disposals:
        found = _locked(disposal, admin, ("listed",))
        if found is None:
            outcome.skipped += 1
            continue
        patient, locked = found
        locked.status = "approved"
        locked.approved_at = clock.now()
        locked.approved_by_id = admin.id
        locked.confirmation = "second_admin"
        audit.write("record.disposal_approved", patient=patient, actor=admin,
                    subject=locked.public_id)
        db.session.commit()
        outcome.done += 1
    return outcome


def confirm(admin: User, disposals: list[RecordDisposal]) -> Outcome:
    """A second admin confirms disposals approved by another. Who approved is read again
    under the lock (``dispose``): an approval withdrawn and given again meanwhile, or given
    by this admin, is not confirmed."""
    if not disposals:
        raise DisposalError("none")
    if any(d.approved_by_id == admin.id for d in disposals):
        raise DisposalError("own_approval")
    outcome = Outcome()
    for disposal in disposals:
        if disposal.approved_by_id is not None and dispose(
                disposal, admin, "second_admin", ("approved",),
                approved_by_id=disposal.approved_by_id):
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

def _locked(disposal: RecordDisposal, actor: User,
            from_status: tuple[str, ...]) -> tuple[Patient, RecordDisposal] | None:
    """In a new transaction: the patient locked, and the disposal read again and locked,
    when the record may still be disposed of (then the caller commits). None, with the
    transaction ended, when not: disposed or handled meanwhile, or a request not answered
    yet (the listing stays); under a legal hold or no longer due (a visit, care resumed:
    the listing is cancelled)."""
    db.session.commit()  # whatever came before is not part of this patient's transaction
    patient = lock_patient(disposal.patient_id)
    locked = db.session.scalar(select(RecordDisposal).where(RecordDisposal.id == disposal.id)
                               .with_for_update().execution_options(populate_existing=True))
    if patient is None or locked is None or locked.status not in from_status \
            or patient.status == DISPOSED or has_open_request(patient.id):
        db.session.rollback()
        return None
    if due(patient, clinic_date(clock.now())) is None:
        locked.status = "cancelled"
        locked.cancelled_at = clock.now()
        audit.write("record.disposal_cancelled", patient=patient, actor=actor,
                    subject=locked.public_id,
                    detail={"reason": "legal_hold" if patient.legal_hold else "visited"})
        db.session.commit()
        return None
    return patient, locked


def dispose(disposal: RecordDisposal, confirmed_by: User, confirmation: str,
            from_status: tuple[str, ...], approved_by_id: int | None = None) -> bool:
    """Dispose of one record in its own transaction; False (and nothing done but perhaps
    the listing cancelled) when it may not be disposed of any more. With the count typed,
    ``confirmed_by`` approves too. A second admin's confirmation (``approved_by_id``: who
    the confirming admin saw approve) needs the approval, read under the lock, to be that
    admin's still, and not the confirming admin's own."""
    found = _locked(disposal, confirmed_by, from_status)
    if found is None:
        return False
    patient, locked = found
    now = clock.now()
    if confirmation == "second_admin":
        if locked.approved_by_id is None or locked.approved_by_id != approved_by_id \
                or locked.approved_by_id == confirmed_by.id:
            db.session.rollback()
            return False
    else:
        locked.approved_at = now
        locked.approved_by_id = confirmed_by.id
    approver = db.session.get(User, locked.approved_by_id)
    assert approver is not None
    erase(patient)
    locked.status = "disposed"
    locked.confirmation = confirmation
    locked.confirmed_at = now
    locked.confirmed_by_id = confirmed_by.id
    locked.disposed_at = now
    audit.write("record.disposed", patient=patient, actor=confirmed_by,
                subject=locked.public_id,
                detail={"approved_by": approver.email, "confirmation": confirmation,
                        "retention_ended_on": locked.retention_ends_on.isoformat()})
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
                       .values(subject=None, detail=None, response=None,
                               extension_reason=None, amendment_id=None))
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
    # The row keeps its public id, when it was opened and discharged, and when it was
    # disposed of (the tombstone has the rest); nothing about the person or their care.
    now = clock.now()
    patient.phone = None
    patient.date_of_birth = None
    patient.pain_change = None
    patient.practitioner_id = None
    patient.discharge_reason = None
    patient.follow_ups_declined_at = None
    patient.account_closed_at = None
    patient.legal_hold_reason = None
    patient.legal_hold_at = None
    patient.legal_hold_by_id = None
    patient.last_activity_at = now  # required: the disposal, its last event
    patient.status = DISPOSED
    patient.disposed_at = now
    db.session.flush()
    # After the flush: portal.models.sync fills the search text from the blanked user.
    db.session.execute(update(Patient).where(Patient.id == pid).values(search_text=""))
    db.session.expire(patient)
    db.session.expire_all()


def _end_account(user: User) -> None:
    uid, email = user.id, user.email
    _drop_browser_sessions(user)
    for model in (UserSession, RecoveryCode, AccountToken):
        _delete(model, model.user_id == uid)
    # Every message to the address, sent or not (portal.mail.drop_pending takes back only
    # those not sent yet): their text names the patient. In any letter case: an older
    # message may carry the address as it was typed then.
    _delete(OutboxMessage, func.lower(OutboxMessage.to_addr) == func.lower(email))
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


def _drop_browser_sessions(user: User) -> None:
    """The browsers still carrying one of the user's sign-ins: found by the sign-in each
    carries, which only the encrypted data says, so read only when the user has a sign-in
    younger than SESSION_LIFETIME (a browser holding an older one has expired), and only
    among the browser sessions not expired. A revoked sign-in counts too: its browser keeps
    its data (the sign-in's id, what the user had typed) until it expires."""
    lifetime: timedelta = current_app.config["SESSION_LIFETIME"]
    live = set(db.session.scalars(select(UserSession.token_hash).where(
        UserSession.user_id == user.id,
        UserSession.created_at > clock.now() - lifetime)))
    if not live:
        return
    doomed = [id_hash for id_hash, sid in session_store.signed_in_sids()
              if sid and crypto.token_hash(sid) in live]
    if doomed:
        _delete(BrowserSession, BrowserSession.id_hash.in_(doomed))
