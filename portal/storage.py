"""Encrypted file storage behind one interface (SPEC 3.2).

Two backends, chosen by ``DOCUMENT_STORAGE``:

* ``database`` (the default): chunks in the ``stored_chunks`` table, so every app instance
  sees every file and a file is committed or rolled back with its record, by the database.
* ``directory``: one file per blob under ``DOCUMENT_DIR``.

Either way a blob is a sequence of chunks, each encrypted on its own with the configured
keys (portal.crypto: MultiFernet, so a key added first in ``ENCRYPTION_KEYS`` encrypts new
files and the older keys still open old ones). Each chunk's plaintext starts with the blob's
key, its sequence number and a last-chunk flag, all under the chunk's authentication: chunks
cannot be swapped between files, reordered or cut off without ``read`` noticing. Files are
written and read a chunk at a time (1 MiB), never held whole in memory.

Blob keys are random (128 bits); nothing about the patient or the file name is in them.

Transactions, directory backend. The database and the file system cannot commit together,
so the order is chosen to make every failure recoverable:

1. ``write`` puts the encrypted file in ``pending/<key>`` (temporary name, fsync, rename,
   fsync of the folder): complete or absent, never half written.
2. The caller commits the record.
3. After the commit, the file is renamed into place (``<key[:2]>/<key>``). If the
   transaction rolls back, or ends without a commit, the pending file is removed.

A process that dies between 2 and 3 leaves a complete pending file whose record exists:
``read`` finds it there (and moves it into place), and ``flask documents sweep`` moves it.
A process that dies between 1 and 2 leaves a pending file with no record: the sweep removes
it once it is older than a grace period. Deletions happen after the commit too; a file whose
record is gone is likewise removed by the sweep.
"""
from __future__ import annotations

import base64
import logging
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO

from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.extensions import db
from portal.models import StoredChunk

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
_HEADER = struct.Struct(">16sIB")  # blob key (16 bytes), sequence number, last-chunk flag
_FRAME = struct.Struct(">I")  # directory files: each chunk's length before it
_PENDING_OPS = "portal_storage_ops"


class StorageError(Exception):
    """A blob is missing, or its content does not decrypt as the blob it claims to be."""


def new_key() -> str:
    return secrets.token_hex(16)


def _key_bytes(key: str) -> bytes:
    if len(key) != 32:
        raise StorageError("malformed blob key")
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise StorageError("malformed blob key") from None


def iter_file(stream: IO[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    stream.seek(0)
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


# --- sealing: one encrypted, authenticated token per chunk -------------------------------

def _seal(key: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypted chunks (raw Fernet token bytes, without the base64)."""
    kb = _key_bytes(key)
    seq = 0
    iterator = iter(chunks)
    current = next(iterator, b"")
    while True:
        following = next(iterator, None)
        plain = _HEADER.pack(kb, seq, 1 if following is None else 0) + current
        yield base64.urlsafe_b64decode(crypto.encrypt(plain))
        if following is None:
            return
        seq += 1
        current = following


def _unseal(key: str, tokens: Iterable[bytes]) -> Iterator[bytes]:
    kb = _key_bytes(key)
    expected = 0
    for raw in tokens:
        try:
            plain = crypto.decrypt(base64.urlsafe_b64encode(raw))
        except InvalidToken:
            raise StorageError(f"blob {key}: chunk {expected} does not decrypt") from None
        chunk_key, seq, last = _HEADER.unpack_from(plain)
        if chunk_key != kb or seq != expected:
            raise StorageError(f"blob {key}: chunk {expected} belongs elsewhere")
        yield plain[_HEADER.size:]
        if last:
            return
        expected += 1
    raise StorageError(f"blob {key}: truncated after {expected} chunks")


def _rotate_token(raw: bytes) -> bytes:
    """The same chunk, encrypted again with the newest key."""
    token = base64.urlsafe_b64encode(raw)
    return base64.urlsafe_b64decode(crypto.rotate(token))


# --- the interface ----------------------------------------------------------------------

class Storage:
    name = "abstract"

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store ``chunks`` (plaintext) encrypted under ``key``, in the current transaction."""
        raise NotImplementedError

    def read(self, key: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk; StorageError if missing or tampered with."""
        raise NotImplementedError

    def write_many(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        """Many small blobs (key, plaintext) at once, as write() would store each: the
        generated demo patients' letters (portal.demo.bulk)."""
        for key, data in blobs:
            self.write(key, [data])

    def delete(self, key: str) -> None:
        """Remove the blob when the current transaction commits."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def rotate(self, key: str) -> None:
        """Encrypt the blob again with the newest key (after a key rotation)."""
        raise NotImplementedError

    def keys(self) -> set[str]:
        raise NotImplementedError


class DatabaseStorage(Storage):
    """Chunks are rows: inserted with plain INSERTs (no ORM objects held until the commit),
    read back one row at a time."""
    name = "database"

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        table = StoredChunk.__table__
        for seq, token in enumerate(_seal(key, chunks)):
            db.session.execute(insert(table).values(key=key, seq=seq, data=token))

    def write_many(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        rows = [{"key": key, "seq": seq, "data": token} for key, data in blobs
                for seq, token in enumerate(_seal(key, [data]))]
        if rows:  # one multi-row INSERT
            db.session.execute(insert(StoredChunk.__table__), rows)

    def _tokens(self, key: str) -> Iterator[bytes]:
        seq = 0
        while True:
            data = db.session.scalar(select(StoredChunk.data)
                                     .where(StoredChunk.key == key, StoredChunk.seq == seq))
            if data is None:
                if seq == 0:
                    raise StorageError(f"blob {key} not found")
                return
            yield bytes(data)
            seq += 1

    def read(self, key: str) -> Iterator[bytes]:
        return _unseal(key, self._tokens(key))

    def delete(self, key: str) -> None:
        db.session.execute(delete(StoredChunk).where(StoredChunk.key == key))

    def exists(self, key: str) -> bool:
        return db.session.scalar(select(func.count()).select_from(StoredChunk)
                                 .where(StoredChunk.key == key, StoredChunk.seq == 0)) == 1

    def rotate(self, key: str) -> None:
        for row_id in db.session.scalars(select(StoredChunk.id)
                                         .where(StoredChunk.key == key)).all():
            data = db.session.scalar(select(StoredChunk.data).where(StoredChunk.id == row_id))
            assert data is not None  # the row listed above, in this transaction
            db.session.execute(update(StoredChunk).where(StoredChunk.id == row_id)
                               .values(data=_rotate_token(bytes(data))))

    def keys(self) -> set[str]:
        return set(db.session.scalars(select(StoredChunk.key).where(StoredChunk.seq == 0)))


class DirectoryStorage(Storage):
    name = "directory"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # paths
    def _final(self, key: str) -> Path:
        _key_bytes(key)  # only hex names ever become paths
        return self.root / key[:2] / key

    def _pending(self, key: str) -> Path:
        _key_bytes(key)
        return self.root / "pending" / key

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_file(self, target: Path, tokens: Iterable[bytes]) -> None:
        """Temporary file, fsync, rename, fsync the folder: ``target`` is whole or absent."""
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(temp, "xb") as fh:
                for token in tokens:
                    fh.write(_FRAME.pack(len(token)))
                    fh.write(token)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        self._fsync_dir(target.parent)

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        pending = self._pending(key)
        if pending.exists() or self._final(key).exists():
            raise StorageError(f"blob {key} exists")
        session = db.session()
        session.connection()  # a transaction is open, so its end is seen (hooks below)
        self._write_file(pending, _seal(key, chunks))
        _ops(session).append(("promote", self, key))

    def _tokens_from(self, path: Path) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while True:
                head = fh.read(_FRAME.size)
                if not head:
                    return
                if len(head) != _FRAME.size:
                    raise StorageError(f"{path.name}: truncated")
                (length,) = _FRAME.unpack(head)
                if length > 2 * CHUNK_SIZE:
                    raise StorageError(f"{path.name}: corrupt frame")
                token = fh.read(length)
                if len(token) != length:
                    raise StorageError(f"{path.name}: truncated")
                yield token

    def _locate(self, key: str) -> Path:
        final = self._final(key)
        if final.exists():
            return final
        if self._pending(key).exists():
            # Committed, but the process stopped before moving it into place (see above):
            # callers only read blobs whose record exists.
            self.promote(key)
            if final.exists():
                return final
        raise StorageError(f"blob {key} not found")

    def read(self, key: str) -> Iterator[bytes]:
        path = self._locate(key)
        return _unseal(key, self._tokens_from(path))

    def delete(self, key: str) -> None:
        _ops(db.session()).append(("remove", self, key))

    def exists(self, key: str) -> bool:
        return self._final(key).exists() or self._pending(key).exists()

    def rotate(self, key: str) -> None:
        path = self._locate(key)
        tokens = [_rotate_token(t) for t in self._tokens_from(path)]  # one chunk list: ~MBs
        self._write_file(path, iter(tokens))

    def keys(self) -> set[str]:
        found: set[str] = set()
        if not self.root.exists():
            return found
        for folder in self.root.iterdir():
            if folder.is_dir() and len(folder.name) == 2:
                found.update(p.name for p in folder.iterdir() if len(p.name) == 32)
        return found

    def pending_keys(self) -> dict[str, float]:
        folder = self.root / "pending"
        if not folder.exists():
            return {}
        return {p.name: p.stat().st_mtime for p in folder.iterdir() if len(p.name) == 32}

    # after the transaction
    def promote(self, key: str) -> None:
        pending, final = self._pending(key), self._final(key)
        if not pending.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(pending, final)
        self._fsync_dir(final.parent)

    def discard(self, key: str) -> None:
        self._pending(key).unlink(missing_ok=True)

    def remove(self, key: str) -> None:
        self._final(key).unlink(missing_ok=True)
        self._pending(key).unlink(missing_ok=True)


# --- transaction hooks (directory backend) ------------------------------------------------

def _ops(session: Session) -> list:
    return session.info.setdefault(_PENDING_OPS, [])


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for op, storage, key in session.info.pop(_PENDING_OPS, []):
        try:
            if op == "promote":
                storage.promote(key)
            else:
                storage.remove(key)
        except OSError:
            # The record is committed; the blob stays where read() and the sweep find it.
            log.exception("storage: could not %s blob %s after commit", op, key)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    # Still here: the transaction ended without a commit (rollback, or closed).
    for op, storage, key in session.info.pop(_PENDING_OPS, []):
        if op == "promote":
            try:
                storage.discard(key)
            except OSError:
                log.exception("storage: could not discard pending blob %s", key)


# --- choosing the backend -----------------------------------------------------------------

def get_storage() -> Storage:
    config = current_app.config
    wanted = (config["DOCUMENT_STORAGE"], config["DOCUMENT_DIR"])
    cache = current_app.extensions.setdefault("portal_storage", {})
    if cache.get("config") != wanted:
        if wanted[0] == "database":
            cache["storage"] = DatabaseStorage()
        elif wanted[0] == "directory":
            cache["storage"] = DirectoryStorage(wanted[1])
        else:
            raise RuntimeError(f"DOCUMENT_STORAGE must be 'database' or 'directory', "
                               f"not {wanted[0]!r}")
        cache["config"] = wanted
    return cache["storage"]


def known_document_keys() -> set[str]:
    """Every stored key a document record refers to (the original of an upload still being
    checked included)."""
    from portal.models import Document
    known: set[str] = set()
    for row in db.session.execute(select(Document.blob_key, Document.preview_key,
                                         Document.original_key)):
        known.update(k for k in row if k)
    return known


def sweep_documents(grace: timedelta = timedelta(hours=1)) -> dict[str, int]:
    """``sweep`` against what the document records refer to (``flask documents sweep`` and
    the worker's hourly task)."""
    return sweep(known_document_keys(), grace)


def sweep(known_keys: set[str], grace: timedelta = timedelta(hours=1)) -> dict[str, int]:
    """Repair what a stopped process left behind (directory backend): move committed pending
    files into place, remove pending files with no record after ``grace``, and remove files
    whose record is gone. ``known_keys`` are the keys the database refers to."""
    storage = get_storage()
    counts = {"promoted": 0, "discarded": 0, "removed": 0}
    if isinstance(storage, DatabaseStorage):
        for key in storage.keys() - known_keys:
            storage.delete(key)
            counts["removed"] += 1
        db.session.commit()
        return counts
    assert isinstance(storage, DirectoryStorage)
    cutoff = (clock.now() - grace).timestamp()
    for key, mtime in storage.pending_keys().items():
        if key in known_keys:
            storage.promote(key)
            counts["promoted"] += 1
        elif mtime < cutoff:
            storage.discard(key)
            counts["discarded"] += 1
    for key in storage.keys() - known_keys:
        # Only old files: a new one may belong to an upload committed since known_keys.
        if storage._final(key).stat().st_mtime < cutoff:
            storage.remove(key)
            counts["removed"] += 1
    return counts
