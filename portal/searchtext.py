"""The text the staff patient search compares (SPEC 5.2).

Each patient carries one denormalised column, ``patients.search_text``: their name and
e-mail address folded (lowercase, accents removed), their phone number as digits and their
date of birth as YYYY-MM-DD, separated by spaces. One narrow column is what a trigram index
covers on PostgreSQL (and what a scan reads on SQLite), instead of folding two columns of
another table on every row of every search.

portal.models.sync keeps it in step with the user's name and e-mail address and the
patient's phone and date of birth; the search folds the typed term with the same fold().
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

_NOT_DIGIT = re.compile(r"[^0-9]+")


def fold(text_: str | None) -> str:
    """Lowercase, without accents: the form both sides of a match are compared in."""
    text_ = (text_ or "").lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text_)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def phone_digits(text_: str | None) -> str | None:
    """A phone number as its digits only; North American numbers without the leading
    country code 1, so that "+1 604 555 0123" and "604-555-0123" are the same number.
    At most 20 digits (E.164 numbers have 15 at most)."""
    digits = _NOT_DIGIT.sub("", text_ or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits[:20] or None


def search_text(name: str | None, email: str | None, phone: str | None,
                date_of_birth: date | None) -> str:
    parts = [fold(name), fold(email), phone or "",
             date_of_birth.isoformat() if date_of_birth else ""]
    return " ".join(" ".join(p.split()) for p in parts if p and p.strip())
