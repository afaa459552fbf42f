"""The one interface every storage backend has, and the one error it raises."""
from __future__ import annotations

from collections.abc import Iterable, Iterator


class StorageError(Exception):
    """A blob is missing, or its content does not decrypt as the blob it claims to be."""


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
