"""Encryption at rest with keys from configuration (Fernet: AES-128-CBC + HMAC-SHA256).

ENCRYPTION_KEYS holds one or more keys, newest first. New data is encrypted with the
first; every listed key can still decrypt, so adding a key never strands old data.
"""
from __future__ import annotations

import hashlib
import secrets

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    cache = current_app.extensions.setdefault("portal_crypto", {})
    keys = current_app.config["ENCRYPTION_KEYS"]
    if cache.get("keys") != keys:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        cache["fernet"] = MultiFernet([Fernet(k.encode()) for k in parts])
        cache["keys"] = keys
    return cache["fernet"]


def encrypt(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt(token: bytes) -> bytes:
    return _fernet().decrypt(token)


def rotate(token: bytes) -> bytes:
    """The same data, encrypted again with the newest key."""
    return _fernet().rotate(token)


def new_token() -> str:
    """A URL-safe secret for e-mailed links and session ids (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are high-entropy random strings, so a plain SHA-256 is a safe digest."""
    return hashlib.sha256(token.encode()).hexdigest()
