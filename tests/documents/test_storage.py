"""Storage (SPEC 3.2): encrypted at rest under random names, key rotation, chunks that cannot
be moved or cut, and a file committed with its record or not at all, on both backends."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal import storage
from portal.documents import checks, services
from portal.extensions import db
from portal.models import Document, StoredChunk
from tests.documents import files
from tests.documents.conftest import BOTH_BACKENDS, stored_everything, upload
from tests.factories import make_document


def raw_bytes(storage_backend: str, document_dir: Path, key: str) -> bytes:
    """Everything stored for ``key``, as it sits in the database or on disk."""
    if storage_backend == "database":
        return b"".join(db.session.scalars(select(StoredChunk.data).where(StoredChunk.key == key)
                                           .order_by(StoredChunk.seq)))
    return (document_dir / key[:2] / key).read_bytes()


def read(key: str) -> bytes:
    return b"".join(storage.get_storage().read(key))


def write(key: str, data: bytes) -> None:
    storage.get_storage().write(key, storage.iter_file(io.BytesIO(data)))
    db.session.commit()


# --- encryption ---------------------------------------------------------------------------

@BOTH_BACKENDS
def test_stored_bytes_are_not_the_file(app, storage_backend, document_dir, patient):
    data = files.pdf("Plain words that must not be readable at rest")
    doc = make_document(patient, content=data, name="letter.pdf")
    at_rest = raw_bytes(storage_backend, document_dir, doc.blob_key)
    assert at_rest and data not in at_rest
    assert b"Plain words" not in at_rest and b"%PDF" not in at_rest
    assert read(doc.blob_key) == data
    # The name on disk says nothing about the patient or the file.
    if storage_backend == "directory":
        names = {p.name for p in document_dir.rglob("*") if p.is_file()}
        assert names == {doc.blob_key, doc.preview_key}
        assert not any("letter" in n or str(patient.id) == n for n in names)


@BOTH_BACKENDS
def test_large_files_go_in_chunks_and_come_back_whole(app, storage_backend):
    data = os.urandom(int(2.5 * storage.CHUNK_SIZE))
    key = storage.new_key()
    write(key, data)
    if storage_backend == "database":
        assert db.session.scalar(select(StoredChunk.seq).where(StoredChunk.key == key)
                                 .order_by(StoredChunk.seq.desc()).limit(1)) == 2
    chunks = list(storage.get_storage().read(key))
    assert len(chunks) == 3 and b"".join(chunks) == data


@BOTH_BACKENDS
def test_a_file_stored_under_an_old_key_opens_after_rotation(app, storage_backend, patient):
    old_key = app.config["ENCRYPTION_KEYS"]
    data = files.pdf("written under the old key")
    doc = make_document(patient, content=data)

    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = f"{new_key},{old_key}"  # the new key first
    assert read(doc.blob_key) == data
    newer = storage.new_key()
    write(newer, b"written under the new key")

    # The new key alone opens new files but not old ones...
    app.config["ENCRYPTION_KEYS"] = new_key
    assert read(newer) == b"written under the new key"
    with pytest.raises(storage.StorageError):
        read(doc.blob_key)

    # ...until `flask documents rotate-keys` has encrypted them again.
    app.config["ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
    result = app.test_cli_runner().invoke(args=["documents", "rotate-keys"])
    assert result.exit_code == 0 and "2 stored files" in result.output, result.output
    app.config["ENCRYPTION_KEYS"] = new_key
    assert read(doc.blob_key) == data
    assert read(doc.preview_key)[:3] == b"\xff\xd8\xff"


def test_rotation_covers_an_upload_still_waiting_for_its_check(app, patient):
    """The original of an upload the worker has not checked yet is a stored file too."""
    old_key = app.config["ENCRYPTION_KEYS"]
    data = files.pdf("waiting for the worker")
    doc = make_document(patient, content=data, status="checking")
    assert doc.status == "checking" and doc.original_key

    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
    result = app.test_cli_runner().invoke(args=["documents", "rotate-keys"])
    assert result.exit_code == 0 and "1 stored files" in result.output, result.output
    app.config["ENCRYPTION_KEYS"] = new_key
    assert read(doc.original_key) == data


def test_chunks_cannot_be_moved_reordered_or_cut(app):
    first, second = storage.new_key(), storage.new_key()
    write(first, os.urandom(2 * storage.CHUNK_SIZE + 10))
    write(second, os.urandom(storage.CHUNK_SIZE + 10))
    rows = {(r.key, r.seq): r for r in db.session.scalars(select(StoredChunk))}

    # A chunk of another file, put in place of this one's.
    rows[(first, 1)].data, saved = rows[(second, 1)].data, rows[(first, 1)].data
    db.session.commit()
    with pytest.raises(storage.StorageError, match="belongs elsewhere"):
        read(first)
    rows[(first, 1)].data = saved

    # Two chunks swapped.
    rows[(first, 0)].data, rows[(first, 1)].data = rows[(first, 1)].data, rows[(first, 0)].data
    db.session.commit()
    with pytest.raises(storage.StorageError):
        read(first)
    rows[(first, 0)].data, rows[(first, 1)].data = rows[(first, 1)].data, rows[(first, 0)].data
    db.session.commit()
    assert len(read(first)) == 2 * storage.CHUNK_SIZE + 10

    # The last chunk gone.
    db.session.delete(rows[(first, 2)])
    db.session.commit()
    with pytest.raises(storage.StorageError, match="truncated"):
        read(first)

    # A flipped bit.
    row = rows[(second, 0)]
    row.data = bytes([row.data[0]]) + bytes([row.data[1] ^ 1]) + row.data[2:]
    db.session.commit()
    with pytest.raises(storage.StorageError, match="does not decrypt"):
        read(second)


def test_the_backend_comes_from_configuration(app, document_dir):
    assert isinstance(storage.get_storage(), storage.DatabaseStorage)
    app.config["DOCUMENT_STORAGE"] = "directory"
    chosen = storage.get_storage()
    assert isinstance(chosen, storage.DirectoryStorage) and chosen.root == document_dir
    app.config["DOCUMENT_STORAGE"] = "s3"
    with pytest.raises(RuntimeError, match="DOCUMENT_STORAGE"):
        storage.get_storage()


def test_only_hex_keys_become_paths(app, document_dir):
    directory = storage.DirectoryStorage(document_dir)
    for bad in ("../../etc/passwd", "a" * 31, "g" * 32, "../" + "a" * 29):
        with pytest.raises(storage.StorageError):
            directory.read(bad)


# --- atomicity: the file and its record together, or neither ------------------------------

@BOTH_BACKENDS
def test_a_failure_after_the_file_is_written_leaves_nothing(app, storage_backend, document_dir,
                                                            patient, monkeypatch):
    """Injected between storage.write and the commit: the audit write fails."""
    written = []
    real_write = type(storage.get_storage()).write

    def spy(self, key, chunks):
        real_write(self, key, chunks)
        written.append(key)
    monkeypatch.setattr(type(storage.get_storage()), "write", spy)

    def fail(*args, **kwargs):
        assert written, "the failure must come after a file was written"
        if storage_backend == "directory":  # really on disk, waiting for the commit
            assert list((document_dir / "pending").iterdir())
        raise RuntimeError("injected failure before the commit")
    monkeypatch.setattr(services.audit, "write", fail)

    with pytest.raises(RuntimeError, match="injected"):
        services.upload(patient.patient, patient, "clearance",
                        [services.Upload("a.pdf", io.BytesIO(files.pdf()))])
    assert stored_everything(document_dir) == {"documents": 0, "chunks": 0, "files": []}


@BOTH_BACKENDS
def test_a_failed_commit_leaves_nothing(app, storage_backend, document_dir, patient,
                                        monkeypatch):
    """The commit itself fails (here: the unique index on the file's hash, as when two
    requests bring the same file at once): the written files go with the transaction."""
    data = files.pdf("sent twice at once")
    first = make_document(patient, content=data)
    before = stored_everything(document_dir)
    monkeypatch.setattr(services, "_duplicates", lambda *a: [])  # the check raced past
    with pytest.raises(services.UploadRefused) as refused:
        services.upload(patient.patient, patient, "clearance",
                        [services.Upload("again.pdf", io.BytesIO(data))])
    assert refused.value.problems[0].code == "duplicate_now"
    after = stored_everything(document_dir)
    assert after == before and after["documents"] == 1
    assert read(first.blob_key) == data


@BOTH_BACKENDS
def test_a_failing_upload_request_leaves_nothing(app, storage_backend, document_dir,
                                                 patient_client, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("injected failure before the commit")
    monkeypatch.setattr(services.audit, "write", fail)
    response = upload(patient_client, (files.pdf(), "a.pdf"), (files.jpeg(), "b.jpg"))
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert stored_everything(document_dir) == {"documents": 0, "chunks": 0, "files": []}


def directory_app(app, document_dir):
    app.config.update(DOCUMENT_STORAGE="directory", DOCUMENT_DIR=str(document_dir))
    return storage.get_storage()


def test_directory_files_are_renamed_into_place_only_after_the_commit(app, document_dir):
    directory = directory_app(app, document_dir)
    key = storage.new_key()
    directory.write(key, [b"hello"])
    pending, final = document_dir / "pending" / key, document_dir / key[:2] / key
    assert pending.exists() and not final.exists()
    db.session.commit()
    assert final.exists() and not pending.exists()
    assert read(key) == b"hello"

    other = storage.new_key()
    directory.write(other, [b"never committed"])
    db.session.rollback()
    assert not directory.exists(other)
    assert not [p for p in document_dir.rglob("*") if p.name.startswith(".")]  # no temp files

    # A session closed without commit or rollback (a request that ended) cleans up too.
    third = storage.new_key()
    directory.write(third, [b"abandoned"])
    db.session.close()
    assert not directory.exists(third)


def test_a_stop_between_commit_and_rename_loses_nothing(app, document_dir, patient,
                                                        monkeypatch):
    """The worker's result is committed but the process stops before the rename: the
    complete pending files are found by the next read, and by the sweep."""
    directory = directory_app(app, document_dir)
    data = files.pdf("committed, not yet moved")
    doc, = services.upload(patient.patient, patient, "clearance",
                           [services.Upload("a.pdf", io.BytesIO(data))], check_now=False)
    monkeypatch.setattr(storage.DirectoryStorage, "promote", lambda self, key: None)
    assert checks.check(doc.id) == "pending"
    doc = db.session.get(Document, doc.id)
    assert (document_dir / "pending" / doc.blob_key).exists()
    monkeypatch.undo()

    assert read(doc.blob_key) == data  # found in pending/, and moved into place
    assert (document_dir / doc.blob_key[:2] / doc.blob_key).exists()
    # The sweep moves the other one (the preview).
    result = app.test_cli_runner().invoke(args=["documents", "sweep"])
    assert result.exit_code == 0 and "promoted 1" in result.output, result.output
    assert not list((document_dir / "pending").iterdir())
    assert directory.exists(doc.preview_key)


def test_the_sweep_removes_what_no_record_refers_to(app, document_dir, patient):
    directory = directory_app(app, document_dir)
    kept = make_document(patient)
    # A process that stopped before its commit left a pending file; another a stray file.
    orphan_pending, orphan_final = storage.new_key(), storage.new_key()
    directory._write_file(directory._pending(orphan_pending), [b"x"])
    directory._write_file(directory._final(orphan_final), [b"y"])
    fresh = storage.new_key()
    directory._write_file(directory._pending(fresh), [b"an upload in progress"])
    old = time.time() - 2 * 3600
    for key in (orphan_pending, orphan_final):
        path = directory._pending(key) if key == orphan_pending else directory._final(key)
        os.utime(path, (old, old))

    result = app.test_cli_runner().invoke(args=["documents", "sweep"])
    assert result.exit_code == 0, result.output
    assert "discarded 1" in result.output and "removed 1" in result.output
    assert not directory.exists(orphan_pending) and not directory.exists(orphan_final)
    assert directory.exists(fresh)  # younger than the grace period
    assert read(kept.blob_key)


@BOTH_BACKENDS
def test_withdrawal_removes_the_files_with_the_record(app, storage_backend, document_dir,
                                                      patient):
    doc = make_document(patient)
    assert stored_everything(document_dir)["documents"] == 1
    services.withdraw(doc, patient)
    assert stored_everything(document_dir) == {"documents": 0, "chunks": 0, "files": []}


@BOTH_BACKENDS
def test_a_rolled_back_removal_keeps_the_files(app, storage_backend, document_dir, patient,
                                               monkeypatch):
    doc = make_document(patient)
    before = stored_everything(document_dir)
    monkeypatch.setattr(services.db.session, "commit", _raise)
    with pytest.raises(RuntimeError):
        services.withdraw(doc, patient)
    db.session.rollback()
    monkeypatch.undo()
    assert stored_everything(document_dir) == before
    assert db.session.get(Document, doc.id) is not None
    assert read(doc.blob_key)


def _raise(*args, **kwargs):
    raise RuntimeError("commit failed")
