"""The ``database`` backend (the default): chunks in the ``stored_chunks`` table, so every
app instance sees every file and a file is committed or rolled back with its record, by the
database."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import delete, func, insert, select, update

from portal.extensions import db
from portal.models import StoredChunk
from portal.storage.base import Storage, StorageError
from portal.storage.chunks import rotate_token, seal, unseal


class DatabaseStorage(Storage):
    """Chunks are rows: inserted with plain INSERTs (no ORM objects held until the commit),
    read back one row at a time."""
    name = "database"

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        table = StoredChunk.__table__
        for seq, token in enumerate(seal(key, chunks)):
            db.session.execute(insert(table).values(key=key, seq=seq, data=token))

    def write_many(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        rows = [{"key": key, "seq": seq, "data": token} for key, data in blobs
                for seq, token in enumerate(seal(key, [data]))]
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
        return unseal(key, self._tokens(key))

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
                               .values(data=rotate_token(bytes(data))))

    def keys(self) -> set[str]:
        return set(db.session.scalars(select(StoredChunk.key).where(StoredChunk.seq == 0)))
