"""What a term typed in a staff search matches (SPEC 5.2): the patient list and the audit
log's patient filter read it alike.

* a date, YYYY-MM-DD or the clinic's usual DD/MM/YYYY: the date of birth, exactly;
* a phone number (digits, with spaces, dashes, dots, brackets or a +): those digits
  anywhere in the phone number;
* anything else: every word of it, folded (lowercase, no accents), somewhere in the
  patient's search text (portal.searchtext).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, and_, false, select

from portal.models import Patient
from portal.searchtext import fold, phone_digits

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_CLINIC_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_PHONE = re.compile(r"\+?[\d\s().-]+")
# Fewer digits than this are too common to mean a phone number: searched as words.
PHONE_MIN_DIGITS = 3


@dataclass(frozen=True)
class Term:
    kind: str  # "none", "date", "phone" or "words"
    date: date | None = None
    digits: str = ""
    words: tuple[str, ...] = ()


def parse_term(q: str | None) -> Term:
    q = (q or "").strip()
    if not q:
        return Term("none")
    for pattern, order in ((_ISO_DATE, (0, 1, 2)), (_CLINIC_DATE, (2, 1, 0))):
        match = pattern.fullmatch(q)
        if match:
            year, month, day = (int(match.group(i + 1)) for i in order)
            try:
                return Term("date", date=date(year, month, day))
            except ValueError:  # 31/02/1990: not a date, and not a phone number either
                return Term("words", words=(q,))
    if _PHONE.fullmatch(q):
        digits = phone_digits(q) or ""
        if len(digits) >= PHONE_MIN_DIGITS:
            return Term("phone", digits=digits)
    return Term("words", words=tuple(fold(q).split()))


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def term_condition(term: Term):
    if term.kind == "date":
        return Patient.date_of_birth == term.date
    if term.kind == "phone":
        # The search text holds the digits too, so its trigram index finds the candidates;
        # the phone column then keeps only phone matches (not a date of birth's digits).
        pattern = f"%{term.digits}%"
        return and_(Patient.search_text.like(pattern), Patient.phone.like(pattern))
    if term.kind == "words":
        return and_(*(Patient.search_text.like(_like(word), escape="\\")
                      for word in term.words))
    return None


def matching_patient_ids(q: str) -> Select:
    """SQL: the ids of the patients the term finds, as the patient list would (for other
    searches that name a patient, such as the audit log's)."""
    condition = term_condition(parse_term(q))
    return select(Patient.id).where(condition if condition is not None else false())
