"""Encrypted file storage behind one interface (SPEC 3.2).

Two backends, chosen by ``DOCUMENT_STORAGE``:

* ``database`` (the default): chunks in the ``stored_chunks`` table, so every app instance
  sees every file and a file is committed or rolled back with its record, by the database
  (database.py).
* ``directory``: one file per blob under ``DOCUMENT_DIR``, moved into place or removed once
  the transaction has ended (directory.py, where the order of the steps is explained).

Either way a blob is a sequence of chunks, each encrypted and authenticated on its own
(chunks.py): chunks cannot be swapped between files, reordered or cut off without ``read``
noticing. Files are written and read a chunk at a time (1 MiB), never held whole in memory.

Blob keys are random (128 bits); nothing about the patient or the file name is in them.

Here: the interface and the backend in use (``get_storage``), new keys, and the sweep that
repairs what a stopped process left behind.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import IO

from flask import current_app
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.storage.base import Storage, StorageError
from portal.storage.chunks import CHUNK_SIZE
from portal.storage.database import DatabaseStorage
from portal.storage.directory import DirectoryStorage  # its import registers the hooks

__all__ = ["CHUNK_SIZE", "DatabaseStorage", "DirectoryStorage", "Storage", "StorageError",
           "get_storage", "iter_file", "known_document_keys", "new_key", "sweep",
           "sweep_documents"]


def new_key() -> str:
    return secrets.token_hex(16)


def iter_file(stream: IO[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    stream.seek(0)
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


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
