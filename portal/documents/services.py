"""Documents: upload, review, withdrawal and removal, and whether a patient is cleared for
IMS (SPEC 3). The rules and the commits live here; nothing here reads the request.

The one rule the rest of the portal relies on is ``is_cleared(patient, on)``: a patient is
cleared for IMS on a day when a physician's clearance was accepted and is still valid that
day (no valid-until date, or one on or after it). ``_valid_clearance`` holds it; every
question about clearance goes through it.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO, cast

from flask import current_app, has_request_context
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, background, clock, mail, storage
from portal.clinic_settings import current_settings
from portal.documents import content
from portal.documents.content import Refused
from portal.extensions import db
from portal.links import absolute_url
from portal.models import Document, Patient, User
from portal.models.document import STAFF_STATUSES


class DocumentError(Exception):
    """A refusal to show next to the form; ``code`` picks the message (views.error_text)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class UploadRefused(Exception):
    """One or more files of an upload were refused; nothing of the upload was kept."""

    def __init__(self, problems: list[Refused | DocumentError]):
        super().__init__(", ".join(p.code for p in problems))
        self.problems = problems


@dataclass
class Upload:
    """A file as the view hands it over: the device's name (display only) and the stream
    Werkzeug spooled it to (a temporary file beyond 500 KB)."""
    filename: str | None
    stream: BinaryIO


@dataclass
class ClearanceState:
    # "cleared", "pending", "checking" (the patient's view only), "rejected", "expired" or
    # "missing"
    state: str
    document: Document | None = None

    @property
    def cleared(self) -> bool:
        return self.state == "cleared"


# --- time -------------------------------------------------------------------------------

def today() -> date:
    """The clinic's date now (valid-until dates are the clinic's days)."""
    return clock.today_in(current_settings().timezone)


# --- the clearance rule (SPEC 3.3) ------------------------------------------------------

def _valid_clearance(on: date):
    """The one definition: an accepted clearance valid on ``on``, from its letter's date
    to its valid-until date (if any), both days included. One without a letter date is
    valid on no day."""
    return ((Document.kind == "clearance") & (Document.status == "accepted")
            & (Document.letter_date <= on)
            & or_(Document.valid_until.is_(None), Document.valid_until >= on))


def is_cleared(patient: Patient, on: date | None = None) -> bool:
    """Whether ``patient`` is cleared for IMS on ``on`` (default: the clinic's today)."""
    on = on or today()
    return bool(db.session.scalar(select(exists().where(Document.patient_id == patient.id,
                                                         _valid_clearance(on)))))


def current_clearance(patient: Patient, on: date | None = None) -> Document | None:
    """The valid clearance that lasts longest (one without an end date first)."""
    on = on or today()
    return db.session.scalar(
        select(Document).where(Document.patient_id == patient.id, _valid_clearance(on))
        .order_by(Document.valid_until.is_(None).desc(), Document.valid_until.desc(),
                  Document.reviewed_at.desc()).limit(1))


def clearance_state(patient: Patient, on: date | None = None, *,
                    for_staff: bool = False) -> ClearanceState:
    """What the patient (and the to-do list) should know about their clearance; with
    ``for_staff``, what staff should (who never see a file still being checked).

    A clearance being checked counts for the patient as one on its way ("checking", after
    one waiting for review); it is never one to review. A refused file counts for nothing."""
    on = on or today()
    valid = current_clearance(patient, on)
    if valid is not None:
        return ClearanceState("cleared", valid)
    clearances = list(db.session.scalars(
        select(Document).where(Document.patient_id == patient.id,
                               Document.kind == "clearance",
                               Document.status.in_(STAFF_STATUSES if for_staff
                                                   else (*STAFF_STATUSES, "checking")))
        .order_by(Document.created_at.desc(), Document.id.desc())))
    for waiting in ("pending", "checking"):
        found = [d for d in clearances if d.status == waiting]
        if found:
            return ClearanceState(waiting, found[0])
    reviewed = sorted((d for d in clearances if d.reviewed_at),
                      key=lambda d: cast(datetime, d.reviewed_at), reverse=True)
    if reviewed:
        latest = reviewed[0]
        return ClearanceState("rejected" if latest.status == "rejected" else "expired", latest)
    return ClearanceState("missing")


def sync_status(patient: Patient) -> None:
    """Keep ``patient.status`` in step with clearance, never moving it backwards past a
    later stage: a patient whose intake is submitted becomes "cleared" while a clearance is
    valid, and goes back to "intake_submitted" if it is removed. Intake submission should
    call this too (a clearance may be accepted before the intake is in)."""
    cleared = is_cleared(patient)
    if cleared and patient.status == "intake_submitted":
        patient.status = "cleared"
    elif not cleared and patient.status == "cleared":
        patient.status = "intake_submitted"


# --- reading ----------------------------------------------------------------------------

def patient_documents(patient: Patient, *, for_staff: bool) -> list[Document]:
    """The patient's documents, newest first. Staff see checked files only: never one still
    being checked, nor one the check refused (nothing of it is kept but its name)."""
    query = select(Document).where(Document.patient_id == patient.id)
    if for_staff:
        query = query.where(Document.status.in_(STAFF_STATUSES))
    return list(db.session.scalars(
        query.options(joinedload(Document.reviewed_by), selectinload(Document.replaced_by))
        .order_by(Document.created_at.desc(), Document.id.desc())))


def visible_to(doc: Document, viewer: User) -> bool:
    """Whether ``viewer`` (already allowed to see the patient) may see this document at
    all: staff see checked files only."""
    return doc.status in STAFF_STATUSES or doc.patient.user_id == viewer.id


def document_by_public_id(public_id: str) -> Document | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(Document).where(Document.public_id == public_id)
                             .options(joinedload(Document.patient)))


def clearances_to_review(limit: int = 50) -> list[tuple[Patient, list[Document]]]:
    """The worklist's queue, one entry per patient (a letter may come as several photos),
    the longest waiting first; the patients come in the same query."""
    queue: dict[int, tuple[Patient, list[Document]]] = {}
    for doc in db.session.scalars(
            select(Document).where(Document.kind == "clearance", Document.status == "pending")
            .options(joinedload(Document.patient).joinedload(Patient.user))
            .order_by(Document.created_at, Document.id).limit(limit * 5)):
        queue.setdefault(doc.patient_id, (doc.patient, []))[1].append(doc)
    return list(queue.values())[:limit]


def count_clearances_to_review() -> int:
    """How many patients have a clearance waiting."""
    return db.session.scalar(select(func.count(func.distinct(Document.patient_id)))
                             .where(Document.kind == "clearance",
                                    Document.status == "pending")) or 0


# --- upload (SPEC 3.1, 3.2) -------------------------------------------------------------

def upload(patient: Patient, uploader: User, kind: str, files: list[Upload], *,
           check_now: bool | None = None) -> list[Document]:
    """Keep every file of the upload, or none: each is checked for what the request can
    tell at once (size, and the type by its first bytes), stored encrypted as it came, and
    committed with its record as "checking"; after the commit the worker is asked to check
    it (portal.documents.checks), which makes it "pending" (ready for review) or "refused".

    ``check_now`` runs those checks here after the commit instead of on the worker; by
    default it does so outside a web request (``flask seed-demo``, scripts, the shell),
    where no worker may be running and the caller wants the result.

    Raises UploadRefused (with one problem per refused file) or DocumentError."""
    if kind not in ("clearance", "imaging", "referral", "other"):
        raise DocumentError("kind")
    if not files:
        raise DocumentError("no_files")
    max_files = current_app.config["DOCUMENT_MAX_FILES"]
    if len(files) > max_files:
        raise DocumentError("too_many", n=max_files)
    if check_now is None:
        check_now = not has_request_context()

    received: list[tuple[Upload, content.Received]] = []
    problems: list[Refused | DocumentError] = []
    for item in files:
        try:
            received.append((item, content.receive(
                item.stream, item.filename, max_bytes=current_app.config["DOCUMENT_MAX_BYTES"])))
        except Refused as refused:
            problems.append(refused)
    problems += _duplicates(patient, [got for _item, got in received])
    if problems:
        raise UploadRefused(problems)

    replaces = _rejected_clearance_to_replace(patient) if kind == "clearance" else None
    store = storage.get_storage()
    documents = []
    try:
        for item, got in received:
            original_key = storage.new_key()
            doc = Document(patient=patient, kind=kind, status="checking",
                           original_name=got.original_name, original_type=got.original_type,
                           content_type=got.content_type, size=got.size,
                           original_sha256=got.sha256, original_key=original_key,
                           uploaded_by=uploader, created_at=clock.now(), replaces=replaces)
            store.write(original_key, storage.iter_file(item.stream))
            db.session.add(doc)
            db.session.flush()
            audit.write("document.uploaded", patient=patient, actor=uploader,
                        subject=doc.public_id, detail={"kind": kind, "type": got.original_type,
                                                       "size": got.size})
            if not check_now:
                background.after_commit("check_document", doc.id)
            documents.append(doc)
        patient.last_activity_at = clock.now()
        db.session.commit()
    except IntegrityError:
        # The same file arrived twice at once (a double click): the unique index caught it.
        db.session.rollback()
        raise UploadRefused([DocumentError("duplicate_now",
                                           name=received[0][1].original_name)]) from None
    except BaseException:
        db.session.rollback()  # the stored blobs go with it (portal.storage)
        raise
    if check_now:
        from portal.documents import checks
        for doc in documents:
            checks.check(doc.id)
    return documents


def _duplicates(patient: Patient, received: list[content.Received]) -> list[DocumentError]:
    """The same bytes as a document the patient has (compared with what was uploaded, and,
    for documents from before the worker checked uploads, with what was stored)."""
    problems = []
    hashes = [got.sha256 for got in received]
    known: dict[str, Document] = {}
    for row in db.session.scalars(
            select(Document).where(Document.patient_id == patient.id,
                                   or_(Document.original_sha256.in_(hashes),
                                       Document.sha256.in_(hashes)))):
        for value in (row.original_sha256, row.sha256):
            if value:
                known.setdefault(value, row)
    seen: set[str] = set()
    for got in received:
        if got.sha256 in known:
            problems.append(DocumentError("duplicate", name=got.original_name,
                                          when=known[got.sha256].created_at))
        elif got.sha256 in seen:
            problems.append(DocumentError("duplicate_batch", name=got.original_name))
        seen.add(got.sha256)
    return problems


def _rejected_clearance_to_replace(patient: Patient) -> Document | None:
    replaced = select(Document.replaces_id).where(Document.replaces_id.is_not(None))
    return db.session.scalar(
        select(Document).where(Document.patient_id == patient.id,
                               Document.kind == "clearance", Document.status == "rejected",
                               Document.id.not_in(replaced))
        .order_by(Document.reviewed_at.desc()).limit(1))


# --- reading a file (SPEC 3.2) ----------------------------------------------------------

def open_file(doc: Document, viewer: User, preview: bool = False) -> Iterator[bytes]:
    """The plaintext, chunk by chunk, after the download or preview is audited (committed).
    The first chunk is read here, so a missing or damaged blob fails before the response
    starts, not half-way through it."""
    key = doc.preview_key if preview else doc.blob_key
    assert key is not None  # only checked documents, which have both, are served
    chunks = storage.get_storage().read(key)
    first = next(chunks, b"")
    audit.write("document.previewed" if preview else "document.downloaded",
                patient=doc.patient, actor=viewer, subject=doc.public_id,
                detail={"kind": doc.kind})
    db.session.commit()
    return itertools.chain([first], chunks)


def record_list_view(viewer: User, patient: Patient) -> None:
    """Staff looking at a patient's documents is a view of the record (SPEC 7.1)."""
    audit.write("documents.viewed", patient=patient, actor=viewer)
    db.session.commit()


# --- review (SPEC 3.3) ------------------------------------------------------------------

def accept(doc: Document, reviewer: User, valid_until: date | None,
           letter_date: date | None = None) -> None:
    """Accept ``doc``; a clearance needs the date of the physician's letter (valid from that
    day), which cannot be in the future (so never after a valid-until date, which cannot be
    in the past)."""
    _check_reviewable(doc)
    if valid_until is not None and valid_until < today():
        raise DocumentError("past_date")
    _check_letter_date(doc, letter_date)
    _claim_review(doc, reviewer, "accepted", valid_until=valid_until,
                  letter_date=letter_date if doc.kind == "clearance" else None)
    _reviewed(doc, reviewer, "document.accepted",
              {"kind": doc.kind, "valid_until": valid_until.isoformat() if valid_until else None,
               "letter_date": letter_date.isoformat() if letter_date else None})


def _check_letter_date(doc: Document, letter_date: date | None) -> None:
    if doc.kind != "clearance":
        return
    if letter_date is None:
        raise DocumentError("letter_date_missing")
    if letter_date > today():
        raise DocumentError("letter_date_future")


def reject(doc: Document, reviewer: User, reason: str) -> None:
    _check_reviewable(doc)
    reason = (reason or "").strip()
    if not reason:
        raise DocumentError("reason")
    _claim_review(doc, reviewer, "rejected", rejection_reason=reason)
    # The reason stays out of the audit log and the e-mail: it may say something clinical.
    _reviewed(doc, reviewer, "document.rejected", {"kind": doc.kind})


def _check_reviewable(doc: Document) -> None:
    if doc.status != "pending":
        raise already_reviewed(doc)


def already_reviewed(doc: Document) -> DocumentError:
    """The refusal of a second review, saying who reviewed ``doc``, when and how, as the
    database has it now (re-read: the first review may have been stored a moment ago)."""
    name = doc.original_name
    if db.session.scalar(select(Document.id).where(Document.id == doc.id)) is None:
        return DocumentError("withdrawn", name=name)
    db.session.refresh(doc)
    if doc.status not in ("accepted", "rejected") or doc.reviewed_at is None:
        return DocumentError("already_reviewed")
    who = doc.reviewed_by.name if doc.reviewed_by is not None else "?"
    return DocumentError(f"already_{doc.status}", name=name, who=who, when=doc.reviewed_at)


def _claim_review(doc: Document, reviewer: User, status: str, **values) -> None:
    """Store the review only if ``doc`` is still pending, in one conditional UPDATE: of two
    reviews at once, the second changes nothing and is told who was first. (PostgreSQL
    makes the second UPDATE wait for the first one's row lock, then finds the row no longer
    pending; SQLite runs one writer at a time.)"""
    result = cast(CursorResult, db.session.execute(
        update(Document).where(Document.id == doc.id, Document.status == "pending")
        .values(status=status, reviewed_at=clock.now(), reviewed_by_id=reviewer.id, **values)
        .execution_options(synchronize_session=False)))
    if not result.rowcount:
        raise already_reviewed(doc)
    db.session.refresh(doc)


def _reviewed(doc: Document, reviewer: User, action: str, detail: dict) -> None:
    if doc.kind == "clearance":
        sync_status(doc.patient)
    audit.write(action, patient=doc.patient, actor=reviewer, subject=doc.public_id,
                detail=detail)
    user = doc.patient.user
    # "There is news in the portal", nothing more (SPEC 6.1, 6.2).
    mail.queue("document_news", user.email, user.locale, name=user.name,
               link=absolute_url("documents.mine"))
    db.session.commit()


# --- withdrawal and removal -------------------------------------------------------------

def withdraw(doc: Document, patient_user: User) -> None:
    """A patient takes back a document nobody has reviewed yet, or clears a refused one from
    their list. One being checked waits for its result (a few seconds)."""
    if doc.status == "checking":
        raise DocumentError("still_checking", name=doc.original_name)
    if doc.status not in ("pending", "refused"):
        raise DocumentError("reviewed_kept")
    _delete(doc, patient_user, "document.withdrawn")


def remove(doc: Document, admin: User) -> None:
    """Reviewed documents are part of the medical record: only an admin removes one."""
    if not admin.is_admin:
        raise DocumentError("admin_only")
    _delete(doc, admin, "document.removed")


def _delete(doc: Document, actor: User, action: str) -> None:
    patient = doc.patient
    audit.write(action, patient=patient, actor=actor, subject=doc.public_id,
                detail={"kind": doc.kind, "status": doc.status})
    store = storage.get_storage()
    for key in (doc.blob_key, doc.preview_key, doc.original_key):
        if key:
            store.delete(key)
    db.session.delete(doc)
    db.session.flush()
    if doc.kind == "clearance":
        sync_status(patient)
    db.session.commit()
