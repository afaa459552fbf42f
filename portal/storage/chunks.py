"""Sealing: one encrypted, authenticated token per chunk of a blob.

Each chunk is encrypted on its own with the configured keys (portal.crypto: MultiFernet, so
a key added first in ``ENCRYPTION_KEYS`` encrypts new files and the older keys still open
old ones). Each chunk's plaintext starts with the blob's key, its sequence number and a
last-chunk flag, all under the chunk's authentication: chunks cannot be swapped between
files, reordered or cut off without ``unseal`` noticing.
"""
from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Iterator

from cryptography.fernet import InvalidToken

from portal import crypto
from portal.storage.base import StorageError

CHUNK_SIZE = 1024 * 1024
_HEADER = struct.Struct(">16sIB")  # blob key (16 bytes), sequence number, last-chunk flag


def key_bytes(key: str) -> bytes:
    if len(key) != 32:
        raise StorageError("malformed blob key")
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise StorageError("malformed blob key") from None


def seal(key: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypted chunks (raw Fernet token bytes, without the base64)."""
    kb = key_bytes(key)
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


def unseal(key: str, tokens: Iterable[bytes]) -> Iterator[bytes]:
    kb = key_bytes(key)
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


def rotate_token(raw: bytes) -> bytes:
    """The same chunk, encrypted again with the newest key."""
    token = base64.urlsafe_b64encode(raw)
    return base64.urlsafe_b64decode(crypto.rotate(token))
