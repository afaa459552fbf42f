"""The practitioner's worklist (SPEC 5.1): what waits, most urgent first, each list with its
count. No request in here; ``portal/clinic/views.py`` reads the address and renders.

The sections, in this order:

1. ``red-flags``: first the ratings that answered yes to the safety question (new shortness
   of breath or chest pain since a session: the warning signs of a pneumothorax, CLINICAL.md)
   and that no one has marked handled, then the intakes with red flags not yet reviewed. One
   section, because both mean "see this patient before anything else"; the safety answers
   lead because they are acute. An intake with red flags is listed here only, not again
   under new intakes, so that each thing to do appears once.
2. ``new-intakes``: intakes sent, not yet reviewed, without a red flag; oldest first.
3. ``clearances-to-review``: one line per patient with a clearance waiting; oldest first.
4. ``worsening``, 5. ``ratings-overdue``, 6. ``improved``: from the stored outcome of each
   patient in treatment (portal/outcomes.py holds the thresholds) and the rating window
   (portal/treatment/services.py). Overdue ratings are counted and listed by session (a
   patient with two sessions unrated has two lines).
7. ``invitations``: patients invited who have not chosen a password yet; newest first.

Whose patients (``Scope``): everyone's (``all``), or ``mine``: the patients assigned to me
and those assigned to no one, so that nothing waits unseen (a patient who registered alone
has no practitioner until someone takes them). Invitations follow the patient too: whoever
invites a patient becomes their practitioner (portal/auth/services.py), so "mine" holds the
invitations I sent, and they move with the patient if someone else takes them. Without a
choice in the address, practitioners who have patients assigned see theirs and everyone
else sees all (``default_who``).

Each list is one statement (the ids of its first WORKLIST_LIST_SIZE lines chosen in a
subquery, the lines loaded with their patients around it) and the counts of every section
asked for come in one more statement, so the number of statements does not grow with the
data (SPEC 8.5).

A section's ``version`` is a short hash of what it shows (its count and, for each line, the
values drawn). The page's self-refresh sends it back; an unchanged section answers 204 and
is left alone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select, true
from sqlalchemy.orm import contains_eager, defer, joinedload

from portal import clock, outcomes
from portal.extensions import db
from portal.models import (AccountToken, Document, IntakeAmendment, IntakeResponse, Patient,
                           SessionRating, TreatmentOutcome, TreatmentSession, User)
from portal.treatment import services as treatment

SECTIONS = ("red-flags", "new-intakes", "clearances-to-review", "worsening",
            "ratings-overdue", "improved", "invitations")
WHO = ("mine", "all")


@dataclass(frozen=True)
class Scope:
    who: str  # "mine" or "all"
    user_id: int

    def patients(self):
        """SQL: the patients this scope covers."""
        if self.who == "all":
            return true()
        return or_(Patient.practitioner_id == self.user_id, Patient.practitioner_id.is_(None))


def default_who(user: User) -> str:
    assigned = db.session.scalar(select(Patient.id).where(Patient.practitioner_id == user.id)
                                 .limit(1))
    return "mine" if assigned is not None else "all"


# --- what a section says about itself ------------------------------------------------------

@dataclass(frozen=True)
class Look:
    title: Any
    empty: Any
    tone: str  # the count badge's colour when there is something
    # Where "and N more" can lead: the patient list filtered by this status (None: nowhere).
    list_status: str | None = None
    list_label: Any = None


LOOKS = {
    "red-flags": Look(_l("Red flags"), _l("No red flags waiting."), "danger"),
    "new-intakes": Look(_l("New intakes to review"), _l("No new intakes to review."),
                        "neutral", "intake_submitted",
                        _l("Patients whose intake is submitted")),
    "clearances-to-review": Look(_l("Clearances to review"),
                                 _l("No clearances are waiting for review."), "neutral"),
    "worsening": Look(_l("Patients worsening"), _l("No patient is worsening."), "danger",
                      "in_treatment", _l("Patients in treatment")),
    "ratings-overdue": Look(_l("Ratings overdue"), _l("No rating is overdue."), "warn",
                            "in_treatment", _l("Patients in treatment")),
    "improved": Look(_l("Meaningful improvement reached"),
                     _l("No patient has reached a meaningful improvement yet."), "ok",
                     "in_treatment", _l("Patients in treatment")),
    "invitations": Look(_l("Invitations not yet accepted"),
                        _l("Every invited patient has joined."), "neutral", "invited",
                        _l("Patients invited")),
}


@dataclass
class Item:
    """One line: ``kind`` says what it is and which tab of the chart it opens; ``row`` is the
    rating, intake, outcome, session or invitation behind it."""
    kind: str  # safety, intake_flag, intake, clearance, worsening, overdue, improved, invitation
    patient: Patient
    row: Any = None
    files: int = 0  # clearances: how many files wait
    since: datetime | None = None  # clearances: the oldest upload
    amended: bool = False  # intakes: corrected after sending
    expired: bool = False  # invitations: the link no longer works

    def drawn(self) -> tuple:
        """What the line shows, for the section's version."""
        row = self.row
        if self.kind == "safety":
            shown: tuple = (row.id, row.updated_at, row.session.treated_at)
        elif self.kind in ("intake", "intake_flag"):
            shown = (row.id, row.submitted_at, row.red_flag_count, row.precaution_count,
                     self.amended)
        elif self.kind == "clearance":
            shown = (self.files, self.since)
        elif self.kind == "overdue":
            shown = (row.id, row.treated_at, row.reminder_sent_at is not None)
        elif self.kind == "invitation":
            shown = (row.id, row.created_at, self.expired, row.user.email)
        else:  # worsening, improved
            shown = (row.baseline, row.latest_nprs)
        practitioner = self.patient.practitioner
        return (self.kind, self.patient.id, self.patient.user.name,
                practitioner.name if practitioner else None) + shown


@dataclass
class Section:
    key: str
    count: int
    items: list[Item]

    @property
    def look(self) -> Look:
        return LOOKS[self.key]

    @property
    def more(self) -> int:
        return max(self.count - len(self.items), 0)

    @property
    def version(self) -> str:
        raw = repr((self.key, self.count, [item.drawn() for item in self.items]))
        return hashlib.blake2s(raw.encode(), digest_size=8).hexdigest()


# --- the statements -------------------------------------------------------------------------

def _first(where: Select, model, order: tuple, limit: int, relationship) -> Select:
    """The ``model`` rows among the first ``limit`` that ``where`` finds in ``order``, with
    their patient, account and practitioner: still one statement. The ids are chosen first,
    in a narrow subquery, and only those rows are joined to what the lines show: sorting
    wide rows made PostgreSQL plan a parallel scan (workers to start) for ten lines."""
    ids = where.with_only_columns(model.id).order_by(*order).limit(limit).scalar_subquery()
    return (select(model).join(relationship).join(Patient.user)
            .where(model.id.in_(ids)).order_by(*order)
            .options(contains_eager(relationship).contains_eager(Patient.user),
                     contains_eager(relationship).joinedload(Patient.practitioner)))


def _safety(scope: Scope, _now: datetime) -> Select:
    return (select(SessionRating).join(SessionRating.patient)
            .where(SessionRating.breathing_alert.is_(True),
                   SessionRating.alert_handled_at.is_(None), scope.patients()))


def _intakes(flagged: bool):
    def where(scope: Scope, _now: datetime) -> Select:
        return (select(IntakeResponse).join(IntakeResponse.patient)
                .where(IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None),
                       IntakeResponse.has_red_flags.is_(flagged), scope.patients()))
    return where


def _pending_clearances():
    return (select(Document.patient_id, func.count().label("files"),
                   func.min(Document.created_at).label("since"))
            .where(Document.kind == "clearance", Document.status == "pending")
            .group_by(Document.patient_id).subquery())


def _outcome(status: str):
    def where(scope: Scope, _now: datetime) -> Select:
        return (select(TreatmentOutcome).join(TreatmentOutcome.patient)
                .where(TreatmentOutcome.status == status, Patient.status == "in_treatment",
                       scope.patients()))
    return where


def _overdue(scope: Scope, now: datetime) -> Select:
    return (select(TreatmentSession).join(TreatmentSession.patient)
            .where(treatment.overdue_clause(now), scope.patients()))


def _invitations(scope: Scope, _now: datetime) -> Select:
    return (select(AccountToken).join(AccountToken.user)
            .join(Patient, Patient.user_id == User.id)
            .where(AccountToken.purpose == "invite", AccountToken.used_at.is_(None),
                   User.role == "patient", User.password_hash.is_(None), User.active.is_(True),
                   # Always so while the invitation waits; it lets the database start from
                   # the practitioner's invited patients (an index), not from every token.
                   Patient.status == "invited", scope.patients()))


def _count(where: Callable[[Scope, datetime], Select]):
    return lambda scope, now: where(scope, now).with_only_columns(func.count()).order_by(None)


def _count_clearances(scope: Scope, _now: datetime) -> Select:
    waiting = _pending_clearances()
    return (select(func.count()).select_from(waiting)
            .join(Patient, Patient.id == waiting.c.patient_id).where(scope.patients()))


def _outcome_counts(scope: Scope) -> dict[str, Select]:
    """Patients worsening and improved, counted over one pass on the patients in treatment
    (a common table expression both counts read): most outcomes belong to patients treated
    long ago, so joining them twice cost twice a scan of every outcome."""
    treating = (select(TreatmentOutcome.status).join(TreatmentOutcome.patient)
                .where(Patient.status == "in_treatment", scope.patients()).cte("treating"))
    return {key: select(func.count()).select_from(treating).where(treating.c.status == status)
            for key, status in (("worsening", outcomes.WORSE),
                                ("improved", outcomes.IMPROVED))}


# Counting statements, one or two per section (red flags adds its two sources).
_COUNTS: dict[str, tuple[Callable[[Scope, datetime], Select], ...]] = {
    "red-flags": (_count(_safety), _count(_intakes(True))),
    "new-intakes": (_count(_intakes(False)),),
    "clearances-to-review": (_count_clearances,),
    "ratings-overdue": (_count(_overdue),),
    "invitations": (_count(_invitations),),
}


def counts(scope: Scope, keys=SECTIONS, now: datetime | None = None) -> dict[str, int]:
    """Every section's count in one statement."""
    now = now or clock.now()
    shared = _outcome_counts(scope)
    columns = []
    for key in keys:
        if key in shared:
            parts = [shared[key].scalar_subquery()]
        else:
            parts = [make(scope, now).scalar_subquery() for make in _COUNTS[key]]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        columns.append(total.label(key.replace("-", "_")))
    row = db.session.execute(select(*columns)).one()
    return {key: int(value or 0) for key, value in zip(keys, row)}


def _list_intakes(flagged: bool, scope: Scope, now: datetime, limit: int) -> list[Item]:
    amended = (select(func.count()).where(IntakeAmendment.response_id == IntakeResponse.id)
               .correlate(IntakeResponse).scalar_subquery())
    stmt = (_first(_intakes(flagged)(scope, now), IntakeResponse,
                   (IntakeResponse.submitted_at, IntakeResponse.id), limit,
                   IntakeResponse.patient)
            .add_columns(amended)
            # The answers themselves are not shown here, and they are the big columns.
            .options(defer(IntakeResponse.answers, raiseload=True),
                     defer(IntakeResponse.scores, raiseload=True),
                     defer(IntakeResponse.flags, raiseload=True)))
    return [Item("intake_flag" if flagged else "intake", response.patient, response,
                 amended=bool(n)) for response, n in db.session.execute(stmt)]


def _list_red_flags(scope: Scope, now: datetime, limit: int) -> list[Item]:
    stmt = (_first(_safety(scope, now), SessionRating,
                   (SessionRating.updated_at, SessionRating.id), limit, SessionRating.patient)
            .options(joinedload(SessionRating.session)))
    items = [Item("safety", rating.patient, rating) for rating in db.session.scalars(stmt)]
    return (items + _list_intakes(True, scope, now, limit))[:limit]


def _list_clearances(scope: Scope, now: datetime, limit: int) -> list[Item]:
    waiting = _pending_clearances()
    stmt = (select(Patient, waiting.c.files, waiting.c.since)
            .join(waiting, waiting.c.patient_id == Patient.id).join(Patient.user)
            .where(scope.patients())
            .options(contains_eager(Patient.user), joinedload(Patient.practitioner))
            .order_by(waiting.c.since, Patient.id).limit(limit))
    return [Item("clearance", patient, files=files, since=since)
            for patient, files, since in db.session.execute(stmt)]


def _list_outcome(kind: str, status: str):
    def make(scope: Scope, now: datetime, limit: int) -> list[Item]:
        stmt = _first(_outcome(status)(scope, now), TreatmentOutcome,
                      (TreatmentOutcome.updated_at.desc(), TreatmentOutcome.id), limit,
                      TreatmentOutcome.patient)
        return [Item(kind, row.patient, row) for row in db.session.scalars(stmt)]
    return make


def _list_overdue(scope: Scope, now: datetime, limit: int) -> list[Item]:
    stmt = _first(_overdue(scope, now), TreatmentSession,
                  (TreatmentSession.rating_opens_at, TreatmentSession.id), limit,
                  TreatmentSession.patient)
    return [Item("overdue", session.patient, session) for session in db.session.scalars(stmt)]


def _list_invitations(scope: Scope, now: datetime, limit: int) -> list[Item]:
    order = (AccountToken.created_at.desc(), AccountToken.id.desc())
    ids = (_invitations(scope, now).with_only_columns(AccountToken.id).order_by(*order)
           .limit(limit).scalar_subquery())
    stmt = (select(AccountToken, Patient).join(AccountToken.user)
            .join(Patient, Patient.user_id == User.id)
            .where(AccountToken.id.in_(ids)).order_by(*order)
            .options(contains_eager(AccountToken.user), joinedload(Patient.practitioner)))
    return [Item("invitation", patient, token, expired=token.expires_at <= now)
            for token, patient in db.session.execute(stmt)]


_LISTS: dict[str, Callable[[Scope, datetime, int], list[Item]]] = {
    "red-flags": _list_red_flags,
    "new-intakes": lambda scope, now, limit: _list_intakes(False, scope, now, limit),
    "clearances-to-review": _list_clearances,
    "worsening": _list_outcome("worsening", outcomes.WORSE),
    "ratings-overdue": _list_overdue,
    "improved": _list_outcome("improved", outcomes.IMPROVED),
    "invitations": _list_invitations,
}


def build(scope: Scope, keys=SECTIONS) -> dict[str, Section]:
    """The sections ``keys`` (every one by default), in the worklist's order."""
    now = clock.now()
    limit = current_app.config["WORKLIST_LIST_SIZE"]
    numbers = counts(scope, keys, now)
    return {key: Section(key, numbers[key], _LISTS[key](scope, now, limit))
            for key in SECTIONS if key in keys}
