"""The ``directory`` backend: one file per blob under ``DOCUMENT_DIR``, and the transaction
hooks that keep those files in step with the database.

The database and the file system cannot commit together, so the order is chosen to make
every failure recoverable:

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

import logging
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.storage.base import Storage, StorageError
from portal.storage.chunks import CHUNK_SIZE, key_bytes, rotate_token, seal, unseal

log = logging.getLogger(__name__)

_FRAME = struct.Struct(">I")  # each chunk's length before it
_PENDING_OPS = "portal_storage_ops"


class DirectoryStorage(Storage):
    name = "directory"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # paths
    def _final(self, key: str) -> Path:
        key_bytes(key)  # only hex names ever become paths
        return self.root / key[:2] / key

    def _pending(self, key: str) -> Path:
        key_bytes(key)
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
        self._write_file(pending, seal(key, chunks))
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
        return unseal(key, self._tokens_from(path))

    def delete(self, key: str) -> None:
        _ops(db.session()).append(("remove", self, key))

    def exists(self, key: str) -> bool:
        return self._final(key).exists() or self._pending(key).exists()

    def rotate(self, key: str) -> None:
        path = self._locate(key)
        tokens = [rotate_token(t) for t in self._tokens_from(path)]  # one chunk list: ~MBs
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


# --- transaction hooks ----------------------------------------------------------------------
# Registered for every Session when this module is imported (portal.storage imports it).

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
