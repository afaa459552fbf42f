"""Password rules (SPEC 1.3): at least 12 characters, no composition rules, not common,
not easy to guess.

The common-password list is the 30,000 most frequent passwords of the zxcvbn project's
frequency lists (Dropbox, MIT licence; installed as the pinned ``zxcvbn`` package), which
follows NIST SP 800-63B section 5.1.1.2: check new passwords against values known to be
commonly used or compromised. A password that passes the list is then scored by zxcvbn's
own estimator, with the person's name and address and the clinic's name among the words it
tries first, and must reach MIN_SCORE.
"""
from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
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

# The demo clinic's shared password (`flask seed-demo`). It is printed in the README, so
# nothing but the demo command may set it.
DEMO_PASSWORD = "demo-password-123"
# Example passwords printed for all to see, so in every guessing list whatever their score:
# the two of the XKCD comic 936 "Password Strength" (Randall Munroe, 2011) and the demo's.
# Compared on letters and digits only: "Correct Horse Battery Staple" is the same password.
_PUBLISHED = {"correcthorsebatterystaple", "tr0ub4dour3"}

# zxcvbn's score runs 0-4; 3 is "safely unguessable: moderate protection from offline
# slow-hash scenario", over 10^8 guesses (Wheeler, "zxcvbn: Low-Budget Password Strength
# Estimation", USENIX Security 2016, section 3). Stored hashes are argon2id, a slow hash.
MIN_SCORE = 3
# zxcvbn's work grows quickly with length (it refuses more than 72 characters by default):
# only the first 72 characters are scored. A longer password whose first 72 characters are
# easy to guess is refused all the same.
_SCORED_LENGTH = 72
# Words anyone guessing a password for this portal tries first, with the person's own.
_CONTEXT_WORDS = ("ims", "portal", "imsportal", "patient", "patientportal", "clinic",
                  "intramuscular", "stimulation", "dryneedling", "needling", "myofascial",
                  "physio", "physiotherapy", "gunn", "pain")
# zxcvbn keeps the words of its last call in a module-level dictionary.
_zxcvbn_lock = threading.Lock()
# The warning of a password built on the person's name or address or the clinic's name
# (zxcvbn itself has none for that).
PERSONAL = "personal"


@dataclass(frozen=True)
class Weakness:
    """Why a new password is refused: ``reason`` is too_short, too_long, demo, published,
    common or guessable. For guessable, zxcvbn's feedback in English (or PERSONAL): the
    caller shows its own translated wording of the texts it knows."""
    reason: str
    warning: str = ""
    suggestions: tuple[str, ...] = ()


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


def _compact(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def context_words(user_inputs: Iterable[str | None]) -> list[str]:
    """What a guesser who knows the person tries first: each input whole, the part of an
    address before the @, without its separators, its words backwards ("tremblaymaria")
    and one by one; then the portal's words."""
    words: list[str] = []
    for text in user_inputs:
        text = (text or "").strip().lower()
        local = text.partition("@")[0]
        pieces = [w for w in re.split(r"[\W_]+", local) if w]
        words += [text, local, _compact(local), "".join(reversed(pieces)),
                  *re.split(r"[\W_]+", text)]
    words += _CONTEXT_WORDS
    return [w for w in dict.fromkeys(words) if len(w) >= 3]


def _scored(password: str, user_inputs: Iterable[str | None]) -> Weakness | None:
    from zxcvbn import zxcvbn

    with _zxcvbn_lock:
        result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=context_words(user_inputs))
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    personal = any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"])
    return Weakness("guessable", PERSONAL if personal else feedback["warning"],
                    tuple(feedback["suggestions"]))


def assess(password: str, user_inputs: Iterable[str | None] = ()) -> Weakness | None:
    """Why a new password is refused, or None. ``user_inputs``: the person's name and
    e-mail address, the clinic's name."""
    if len(password) < MIN_LENGTH:
        return Weakness("too_short")
    if len(password) > MAX_LENGTH:
        return Weakness("too_long")
    if _compact(password) == _compact(DEMO_PASSWORD):
        return Weakness("demo")
    if _compact(password) in _PUBLISHED:
        return Weakness("published")
    if is_common(password):
        return Weakness("common")
    return _scored(password, user_inputs)


def problem(password: str, user_inputs: Iterable[str | None] = ()) -> str | None:
    """The reason a new password is refused (Weakness.reason), or None."""
    weakness = assess(password, user_inputs)
    return weakness.reason if weakness else None


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
