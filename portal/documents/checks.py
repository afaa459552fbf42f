"""The background check of an uploaded file (SPEC 3.1), run by the worker
(``portal.tasks.check_document``, and every minute ``check_documents`` for any whose task
was lost).

The upload request stored the file as it came and recorded it as "checking". Here the
worker claims it, decodes and converts it (``content.prepare``: decoding, turning upright,
metadata stripped, HEIC to JPEG, PDF active content, the preview) and, in one transaction,
either keeps what it made of it ("pending", ready for review) or refuses it ("refused",
with the reason the patient reads); either way the original is deleted in that
transaction.

Any number of workers may check the same document at once, or again after one was killed:

* A claim is a conditional UPDATE (still "checking", and no claim or one expired),
  committed before the work starts; a worker that claims nothing stops there.
* The result is written under the same condition (still "checking", and the claim still
  this worker's): a worker that took too long and lost its claim writes nothing, and the
  blobs it stored go with its rolled-back transaction. So there is one result and one set
  of blobs, whatever happens.
* A worker killed mid-check leaves its claim, which expires after CLAIM_FOR; the periodic
  task then checks the document again from its original, still stored.
"""
from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, storage
from portal.documents import content
from portal.documents.content import Refused
from portal.extensions import db
from portal.models import Document

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=10)
# A document still unclaimed this long after its upload lost its task (the queue was down,
# or the worker stopped): the periodic task checks it.
LOST_AFTER = timedelta(minutes=1)


def check(document_id: int) -> str | None:
    """Check one document; returns its new status ("pending" or "refused"), or None when
    there was nothing to do (checked already, withdrawn, or claimed by another worker)."""
    claim = _claim(document_id)
    if claim is None:
        return None
    doc = db.session.get(Document, document_id)
    if doc is None:
        return None
    if not doc.original_key:  # cannot happen while "checking"; refuse rather than loop
        return _refuse(document_id, claim, "unreadable", {})
    try:
        with tempfile.TemporaryFile() as original:
            # Decrypted a chunk at a time to a temporary file, never whole in memory.
            for chunk in storage.get_storage().read(doc.original_key):
                original.write(chunk)
            cfg = current_app.config
            try:
                prepared = content.prepare(original, doc.original_name,
                                           max_bytes=cfg["DOCUMENT_MAX_BYTES"],
                                           max_pixels=cfg["DOCUMENT_MAX_PIXELS"])
            except Refused as refused:
                return _refuse(document_id, claim, refused.code, refused.params)
            try:
                return _keep(document_id, claim, prepared)
            finally:
                prepared.content.close()
    except storage.StorageError:
        log.exception("document %s: the stored original cannot be read", document_id)
        db.session.rollback()
        return _refuse(document_id, claim, "unreadable", {})


def check_due(limit: int = 100) -> int:
    """Check the documents whose claim has expired (a worker stopped mid-check) or that
    nobody claimed within LOST_AFTER of their upload (their task was lost). Returns how
    many this call checked."""
    now = clock.now()
    due = list(db.session.scalars(
        select(Document.id).where(
            Document.status == "checking",
            or_(and_(Document.check_claimed_until.is_(None),
                     Document.created_at < now - LOST_AFTER),
                Document.check_claimed_until < now))
        .order_by(Document.created_at, Document.id).limit(limit)))
    db.session.rollback()
    return sum(1 for document_id in due if check(document_id) is not None)


# --- claiming and concluding ------------------------------------------------------------

def _claim(document_id: int) -> datetime | None:
    now = clock.now()
    until = now + CLAIM_FOR
    claimed = cast(CursorResult[Any], db.session.execute(
        update(Document)
        .where(Document.id == document_id, Document.status == "checking",
               or_(Document.check_claimed_until.is_(None),
                   Document.check_claimed_until < now))
        .values(check_claimed_until=until)
        .execution_options(synchronize_session=False))).rowcount
    db.session.commit()
    return until if claimed == 1 else None


def _conclude(document_id: int, claim: datetime, **values) -> bool:
    """Write the result if the claim is still this worker's; else roll back what it did."""
    done = cast(CursorResult[Any], db.session.execute(
        update(Document)
        .where(Document.id == document_id, Document.status == "checking",
               Document.check_claimed_until == claim)
        .values(check_claimed_until=None, original_key=None, **values)
        .execution_options(synchronize_session=False))).rowcount
    if done != 1:
        db.session.rollback()
        log.info("document %s: checked by another worker meanwhile", document_id)
        return False
    return True


def _keep(document_id: int, claim: datetime, prepared: content.Prepared) -> str | None:
    doc = db.session.get(Document, document_id)
    assert doc is not None  # check() found it, under this worker's claim
    same = db.session.scalar(
        select(Document).where(Document.patient_id == doc.patient_id,
                               Document.sha256 == prepared.sha256, Document.id != doc.id))
    if same is not None:  # another file that comes out the same (a photo sent twice)
        return _refuse(document_id, claim, "duplicate", {"when": same.created_at.isoformat()})
    original_key = doc.original_key
    assert original_key is not None  # check() refused the document that had none
    store = storage.get_storage()
    blob_key, preview_key = storage.new_key(), storage.new_key()
    store.write(blob_key, storage.iter_file(prepared.content))
    store.write(preview_key, [prepared.preview])
    if not _conclude(document_id, claim, status="pending", content_type=prepared.content_type,
                     size=prepared.size, sha256=prepared.sha256, blob_key=blob_key,
                     preview_key=preview_key):
        return None
    store.delete(original_key)
    audit.write("document.checked", patient=doc.patient, actor=None, subject=doc.public_id,
                detail={"kind": doc.kind, "type": prepared.content_type,
                        "size": prepared.size})
    try:
        db.session.commit()
    except IntegrityError:
        # The same content committed for this patient meanwhile (the unique index).
        db.session.rollback()
        return _refuse(document_id, claim, "duplicate_now", {})
    return "pending"


def _refuse(document_id: int, claim: datetime, code: str, params: dict) -> str | None:
    """Nothing of the file is kept but its name, to tell the patient which one: the
    original goes, and so do its hashes (the same file may be tried again)."""
    doc = db.session.get(Document, document_id)
    assert doc is not None  # check() found it, under this worker's claim
    original_key = doc.original_key
    params = {k: v for k, v in params.items() if k != "name"}  # the name is the document's
    if not _conclude(document_id, claim, status="refused", refusal_code=code,
                     refusal_params=params or None, sha256=None, original_sha256=None,
                     blob_key=None, preview_key=None, replaces_id=None):
        return None
    if original_key:
        storage.get_storage().delete(original_key)
    audit.write("document.refused", patient=doc.patient, actor=None, subject=doc.public_id,
                detail={"kind": doc.kind, "reason": code})
    db.session.commit()
    return "refused"
