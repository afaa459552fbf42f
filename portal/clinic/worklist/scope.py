"""Whose patients a worklist shows (SPEC 5.1): everyone's, or "mine" (assigned to me, and
to no one), as conditions on ``Patient`` that the section statements add."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, or_, select

from portal.extensions import db
from portal.models import Patient, User

# The bound parameter that carries ``Scope.user_id``: statements are built for a "who" and
# run with the user's id, so that one statement serves every user (see ``_kept``).
ME = "worklist_user"


@dataclass(frozen=True)
class Scope:
    who: str  # "mine" or "all"
    user_id: int

    @property
    def params(self) -> dict[str, int]:
        """The values the statements of this scope run with."""
        return {ME: self.user_id}


def parts(who: str, split: bool) -> tuple:
    """SQL: the patients ``who`` covers, as conditions on ``Patient`` whose results add up
    (``None``: everyone, no condition and nothing to join); "mine" is mine (``ME``) and no
    one's, so that nothing waits unseen.

    ``split`` asks for "mine" in its two halves, my patients and no one's, each queried on
    its own, on PostgreSQL: where a section's rows are found by their own index and only
    then matched to their patient (red flags, intakes, overdue ratings),
    ``practitioner_id = me OR practitioner_id IS NULL`` can only be read there through a
    bitmap of both ranges of the index and a visit to the row of every one of my patients
    (thousands, once years of discharged patients add up), and PostgreSQL did so whenever
    it expected more than a few rows; each half alone is a range of an index that can give
    the ids without the rows (ix_patients_practitioner_status, with INCLUDE (id) on
    PostgreSQL). SQLite matches each row to its patient by key whatever the form, so halves
    would only read the rows twice. Kept whole where the patients are also narrowed by
    their status (a few entries of the same index) or reached by key from a short list:
    one part plans faster."""
    if who == "all":
        return (None,)
    mine = Patient.practitioner_id == bindparam(ME)
    unassigned = Patient.practitioner_id.is_(None)
    return (mine, unassigned) if halves(who, split) else (or_(mine, unassigned),)


def halves(who: str, split: bool) -> bool:
    """Whether ``parts(who, split)`` gives "mine" in its two halves."""
    return split and who == "mine" and db.engine.dialect.name == "postgresql"


def patients_of(who: str):
    """SQL: the patients ``who`` covers, in one condition (``None``: everyone)."""
    return parts(who, split=False)[0]


def default_who(user: User) -> str:
    assigned = db.session.scalar(select(Patient.id).where(Patient.practitioner_id == user.id)
                                 .limit(1))
    return "mine" if assigned is not None else "all"


# --- the statements -------------------------------------------------------------------------

def conditions(part) -> tuple:
    return () if part is None else (part,)


def scoped(stmt: Select, patient_id, part) -> Select:
    """``stmt`` cut to the patients of one part of the scope. Everyone needs no join: the
    foreign key (NOT NULL) already gives every row its patient."""
    if part is None:
        return stmt
    return stmt.join(Patient, Patient.id == patient_id).where(part)
