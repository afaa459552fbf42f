"""Password rules (SPEC 1.3): at least 12 characters, no composition rules, not common.

The common-password list is the 30,000 most frequent passwords of the zxcvbn project's
frequency lists (Dropbox, MIT licence; installed as the pinned ``zxcvbn`` package), which
follows NIST SP 800-63B section 5.1.1.2: check new passwords against values known to be
commonly used or compromised.
"""
from __future__ import annotations

import contextlib
import itertools
import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256

# argon2id as the OWASP Password Storage Cheat Sheet's first configuration: 19 MiB, two
# passes, one lane (its stated equivalents trade memory for passes). RFC 9106's 64 MiB
# profile held 64 MiB more in the worker at every sign-in, beyond SPEC 8.5's 150 MB; a
# sync worker hashes one password at a time. Changing these makes needs_rehash() true for
# the hashes stored before, and sign-in stores a new one.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

_PORTAL_WORDS = {"imsportal", "patientportal", "intramuscular", "dryneedling", "ims"}


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"]) | _PORTAL_WORDS


def is_common(password: str) -> bool:
    lowered = password.lower().strip()
    common = _common()
    if lowered in common:
        return True
    # "password12345", "monkey!!!!!!": a common word padded with digits or symbols.
    base = re.sub(r"[\d\W_]+$", "", lowered)
    if base and base != lowered and (base in common or len(set(base)) <= 2):
        return True
    # "qwertyqwerty", "aaaaaaaaaaaa": one short piece repeated.
    for size in range(1, len(lowered) // 2 + 1):
        if len(lowered) % size == 0 and lowered[:size] * (len(lowered) // size) == lowered:
            return True
    # "123456789012", "abcdefghijkl", "987654321098": a run up or down the digits or letters.
    return _is_run(lowered)


def _is_run(text: str) -> bool:
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz"):
        if len(text) < 2 or any(c not in alphabet for c in text):
            continue
        steps = {(alphabet.index(b) - alphabet.index(a)) % len(alphabet)
                 for a, b in itertools.pairwise(text)}
        if steps in ({1}, {len(alphabet) - 1}):
            return True
    return False


def problem(password: str) -> str | None:
    """The reason a new password is refused, or None. Messages are translated by callers."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    if is_common(password):
        return "common"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Same work as a real check, so a missing account takes as long as a wrong password.
        _burn(password)
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)
