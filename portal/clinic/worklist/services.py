"""The practitioner's worklist (SPEC 5.1): what waits, most urgent first, each list with its
count. No request in here; ``portal/clinic/worklist/views.py`` reads the address and renders.

The sections and their order: portal/clinic/worklist/sections.py.

Whose patients (``Scope``): everyone's (``all``), or ``mine``: the patients assigned to me
and those assigned to no one, so that nothing waits unseen (a patient who registered alone
has no practitioner until someone takes them). Invitations follow the patient too: whoever
invites a patient becomes their practitioner (portal/auth/services.py), so "mine" holds the
invitations I sent, and they move with the patient if someone else takes them. Without a
choice in the address, practitioners who have patients assigned see theirs and everyone
else sees all (``default_who``).

Each kind of line is one statement, whatever the data (SPEC 8.5): the ids of the first
WORKLIST_LIST_SIZE lines of each list chosen in a subquery, counted by a window over the
rows that subquery sorts anyway, and the lines loaded with their patients around it.
Intakes with and without red flags share one statement, as do patients worsening and
improved; only these last two are counted apart, in one more statement (their lists stop
at their first lines). At 100,000 patients planning a statement costs about as much as
running it, and building it in Python about as much again: fewer statements, each read
once, and those that do not depend on the time are built once and kept (``_kept``).

A section's ``version`` is a short hash of what it shows (its count and, for each line, the
values drawn). The page's self-refresh sends it back; an unchanged section answers 204 and
is left alone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import Integer, Select, func, literal, select, union_all
from sqlalchemy.orm import contains_eager, defer, joinedload

from portal import clock, outcomes
from portal.clinic.worklist.scope import (
    Scope,
    conditions,
    default_who,
    halves,
    parts,
    patients_of,
    scoped,
)
from portal.clinic.worklist.sections import LOOKS, Item, Look, Section
from portal.extensions import db
from portal.models import (
    AccountToken,
    Document,
    IntakeAmendment,
    IntakeResponse,
    Patient,
    SafetyReport,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.treatment import services as treatment

SECTIONS = ("red-flags", "consent-withdrawn", "new-intakes", "clearances-to-review",
            "correction-requests", "worsening",
            "ratings-overdue", "improved", "follow-ups-answered", "follow-ups-overdue",
            "invitations")
WHO = ("mine", "all")

# What the views, the digest and the tests use; the scope and the sections' looks live in
# their own modules.
__all__ = ["LOOKS", "SECTIONS", "WHO", "Item", "Look", "Scope", "Section", "build", "counts",
           "default_who"]


@dataclass(frozen=True)
class Rows:
    """What a section finds, for one part of the scope: ``query(part, now)`` (``now`` is
    None for the rows that do not depend on the time, whose statements are kept).
    ``split``: query "mine" in its two halves (see ``_parts``)."""
    query: Callable[[Any, datetime | None], Select]
    split: bool

    def parts(self, who: str, now: datetime | None) -> list[Select]:
        return [self.query(part, now) for part in parts(who, self.split)]


def _picks(who: str, sources: tuple[Rows, ...], now: datetime | None, column,
           order: tuple, limit: int, counted: bool = True):
    """The first ``limit`` rows in ``order`` that each source finds in each part of the
    scope, as a subquery: ``id`` (``column``), ``pick`` (which source and part, numbered in
    that order) and ``total``, how many rows that pick finds in all: a window over the rows
    the pick sorts anyway, so the count costs no second pass; at least one row per pick, so
    that a total is read whenever there is one. Not ``counted`` (0): a pick that an index
    gives in order stops at its first rows, and a count would make it read them all."""
    total = func.count().over() if counted else literal(0, Integer)
    picks: list[Select] = []
    for rows in sources:
        for stmt in rows.parts(who, now):
            picks.append(stmt.with_only_columns(
                column.label("id"), literal(len(picks), Integer).label("pick"),
                total.label("total"), maintain_column_froms=True)
                .order_by(*order).limit(max(limit, 1)))
    if len(picks) == 1:
        return picks[0].subquery("picked")
    # Each pick in a subquery of its own: SQLite takes no ORDER BY/LIMIT inside a UNION.
    return union_all(*(select(pick.subquery()) for pick in picks)).subquery("picked")


def _first(who: str, sources: tuple[Rows, ...], now: datetime | None, model,
           order: tuple, limit: int, relationship, counted: bool = True) -> Select:
    """The ``model`` rows among the first ``limit`` that each of ``sources`` finds in
    ``order``, with their patient, account and practitioner and the columns ``pick`` and
    ``total`` of ``_picks`` (``_found`` sorts them out): one statement, whatever the number
    of sources (sections listing the same kind of row share it). The ids are chosen first,
    in a narrow subquery, and only those rows are joined to what the lines show: sorting
    wide rows made PostgreSQL plan a parallel scan (workers to start) for ten lines."""
    picked = _picks(who, sources, now, model.id, order, limit, counted)
    return (select(model).join(picked, picked.c.id == model.id)
            .join(relationship).join(Patient.user)
            .add_columns(picked.c.pick, picked.c.total).order_by(*order)
            .options(contains_eager(relationship).contains_eager(Patient.user),
                     contains_eager(relationship).joinedload(Patient.practitioner)))


def _found(rows, who: str, sources: tuple[Rows, ...],
           limit: int) -> list[tuple[int, list]]:
    """The result of ``_first``, per source: how many rows it finds in all (the totals of
    its picks) and its first ``limit`` rows (the picks of the halves of "mine" merged, in
    the statement's order)."""
    owner = [n for n, source in enumerate(sources)
             for _part in range(2 if halves(who, source.split) else 1)]
    counts = [0] * len(sources)
    lines: list[list] = [[] for _source in sources]
    read = set()
    for row in rows:
        source = owner[row.pick]
        if row.pick not in read:
            read.add(row.pick)
            counts[source] += row.total
        if len(lines[source]) < limit:
            lines[source].append(row)
    return list(zip(counts, lines))


@lru_cache(maxsize=128)
def _kept(dialect: str, build: Callable[..., Select], *args) -> Select:
    """``build(*args)``, built once and kept for the next requests asking the same: the
    statements that do not depend on the time (all but the ratings overdue), for a "who"
    and a list size, shared by every user (their id is bound at run time, ``ME``).
    Building a statement and its cache key cost about as much Python as running it. The
    dialect is in the key: ``_parts`` depends on it."""
    return build(*args)


def _statement(build: Callable[..., Select], *args) -> Select:
    return _kept(db.engine.dialect.name, build, *args)


def _safety_rows(part, _now: datetime | None) -> Select:
    """Red flags after a session no one has acknowledged (ix_safety_reports_open)."""
    return scoped(select(SafetyReport)
                   .where(SafetyReport.alert.is_(True), SafetyReport.acknowledged_at.is_(None)),
                   SafetyReport.patient_id, part)


_SAFETY = Rows(_safety_rows, split=True)


def _intakes(flagged: bool) -> Rows:
    def rows(part, _now: datetime | None) -> Select:
        return scoped(select(IntakeResponse)
                       .where(IntakeResponse.status == "submitted",
                              IntakeResponse.reviewed_at.is_(None),
                              IntakeResponse.has_red_flags.is_(flagged)),
                       IntakeResponse.patient_id, part)
    return Rows(rows, split=True)


def _pending_clearances():
    return (select(Document.patient_id, func.count().label("files"),
                   func.min(Document.created_at).label("since"))
            .where(Document.kind == "clearance", Document.status == "pending")
            .group_by(Document.patient_id).subquery())


def _outcome(key: str) -> Rows:
    def rows(part, _now: datetime | None) -> Select:
        return (select(TreatmentOutcome).join(TreatmentOutcome.patient)
                .where(_outcome_is(key, TreatmentOutcome.status, TreatmentOutcome.worsening),
                       Patient.status == "in_treatment", *conditions(part)))
    return Rows(rows, split=False)


def _overdue_rows(part, now: datetime | None) -> Select:
    assert now is not None  # overdue depends on the time: never a kept statement
    return scoped(select(TreatmentSession).where(treatment.overdue_clause(now)),
                   TreatmentSession.patient_id, part)


_OVERDUE = Rows(_overdue_rows, split=True)


def _invitation_rows(part, _now: datetime | None) -> Select:
    return (select(AccountToken).join(AccountToken.user)
            .join(Patient, Patient.user_id == User.id)
            .where(AccountToken.purpose == "invite", AccountToken.used_at.is_(None),
                   User.role == "patient", User.password_hash.is_(None), User.active.is_(True),
                   # Always so while the invitation waits; it lets the database start from
                   # the practitioner's invited patients (an index), not from every token.
                   Patient.status == "invited", *conditions(part)))


_INVITATIONS = Rows(_invitation_rows, split=False)


def _outcome_is(key: str, status, worsening):
    """The sections that list patients by their stored outcome: "improved", the responders
    (portal.outcomes), and "worsening", every patient with the worsening alert, responders
    included (a patient can be in both: CLINICAL.md, "Responder")."""
    return worsening.is_(True) if key == "worsening" else status == outcomes.IMPROVED


def _outcome_counts(scope: Scope, keys: tuple[str, ...]) -> dict[str, int]:
    """Patients worsening and improved (those of ``keys``), counted in one statement over
    one pass on the patients in treatment (a common table expression both counts read):
    the lists of these sections stop at their first lines and count nothing. The pass
    starts from those patients (an index on their status) and reads each one's outcome by
    its key, in a scalar subquery (one outcome per patient:
    uq_treatment_outcomes_patient_id): most outcomes belong to patients treated long ago,
    and joining outcomes to patients let PostgreSQL read every outcome to keep a few
    percent."""
    row = db.session.execute(_statement(_outcome_counts_statement, scope.who, keys),
                             scope.params).one()
    return {key: int(value or 0) for key, value in zip(keys, row)}


def _outcome_counts_statement(who: str, keys: tuple[str, ...]) -> Select:
    def stored(column):
        return (select(column).where(TreatmentOutcome.patient_id == Patient.id)
                .scalar_subquery())
    treating = (select(stored(TreatmentOutcome.status).label("status"),
                       stored(TreatmentOutcome.worsening).label("worsening"))
                .where(Patient.status == "in_treatment", *conditions(patients_of(who)))
                .cte("treating"))
    return select(*(select(func.count()).select_from(treating)
                    .where(_outcome_is(key, treating.c.status, treating.c.worsening))
                    .scalar_subquery().label(key) for key in keys))


# Each list below answers (count, items) per section: the count of all the rows and the
# first ``limit`` of them as lines.

def _list_intakes(flags: tuple[bool, ...], scope: Scope, now: datetime,
                  limit: int) -> dict[bool, tuple[int, list[Item]]]:
    """Intakes with red flags (``True``), without (``False``), or both in one statement."""
    result = db.session.execute(_statement(_intakes_statement, flags, scope.who, limit),
                                scope.params)
    found = _found(result, scope.who, tuple(_intakes(flagged) for flagged in flags), limit)
    return {flagged: (count, [Item("intake_flag" if flagged else "intake", row[0].patient,
                                   row[0], amended=bool(row.amended)) for row in rows])
            for flagged, (count, rows) in zip(flags, found)}


def _intakes_statement(flags: tuple[bool, ...], who: str, limit: int) -> Select:
    amended = (select(func.count()).where(IntakeAmendment.response_id == IntakeResponse.id)
               .correlate(IntakeResponse).scalar_subquery())
    return (_first(who, tuple(_intakes(flagged) for flagged in flags), None,
                   IntakeResponse, (IntakeResponse.submitted_at, IntakeResponse.id), limit,
                   IntakeResponse.patient)
            .add_columns(amended.label("amended"))
            # The answers themselves are not shown here, and they are the big columns.
            .options(defer(IntakeResponse.answers, raiseload=True),
                     defer(IntakeResponse.scores, raiseload=True),
                     defer(IntakeResponse.flags, raiseload=True)))


def _list_safety(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    result = db.session.execute(_statement(_safety_statement, scope.who, limit),
                                scope.params)
    [(count, rows)] = _found(result, scope.who, (_SAFETY,), limit)
    return count, [Item("safety", row[0].patient, row[0]) for row in rows]


def _safety_statement(who: str, limit: int) -> Select:
    return (_first(who, (_SAFETY,), None, SafetyReport,
                   (SafetyReport.created_at, SafetyReport.id), limit, SafetyReport.patient)
            .options(joinedload(SafetyReport.session)))


def _list_clearances(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    rows = db.session.execute(_statement(_clearances_statement, scope.who, limit),
                              scope.params).all()
    return (rows[0][3] if rows else 0,
            [Item("clearance", patient, files=files, since=since)
             for patient, files, since, _total in rows[:limit]])


def _clearances_statement(who: str, limit: int) -> Select:
    """One line per patient with a clearance waiting, each matched to its patient by key
    (one part of the scope: few rows), counted by a window over the rows sorted anyway."""
    waiting = _pending_clearances()
    return (select(Patient, waiting.c.files, waiting.c.since, func.count().over())
            .join(waiting, waiting.c.patient_id == Patient.id).join(Patient.user)
            .where(*conditions(patients_of(who)))
            .options(contains_eager(Patient.user), joinedload(Patient.practitioner))
            .order_by(waiting.c.since, Patient.id).limit(max(limit, 1)))


def _list_outcomes(keys: tuple[str, ...], scope: Scope, now: datetime,
                   limit: int) -> dict[str, list[Item]]:
    """Patients worsening, improved, or both (section ``keys``) in one statement. Not
    counted here: each pick walks ix_treatment_outcomes_status (improved) or
    ix_treatment_outcomes_worsening (worsening) from the newest outcome and
    stops at its first patients in treatment, where counting would join every outcome of
    that status (most of them of discharged patients) to its patient; ``_outcome_counts``
    counts them."""
    result = db.session.execute(_statement(_outcomes_statement, keys, scope.who, limit),
                                scope.params)
    sources = tuple(_outcome(key) for key in keys)
    return {key: [Item(key, row[0].patient, row[0]) for row in rows]
            for key, (_count, rows) in zip(keys, _found(result, scope.who, sources, limit))}


def _outcomes_statement(keys: tuple[str, ...], who: str, limit: int) -> Select:
    return _first(who, tuple(_outcome(key) for key in keys), None,
                  TreatmentOutcome, (TreatmentOutcome.updated_at.desc(), TreatmentOutcome.id),
                  limit, TreatmentOutcome.patient, counted=False)


def _list_overdue(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    # Built at each request: the rating window moves with the time.
    stmt = _first(scope.who, (_OVERDUE,), now, TreatmentSession,
                  (TreatmentSession.rating_opens_at, TreatmentSession.id), limit,
                  TreatmentSession.patient)
    result = db.session.execute(stmt, scope.params)
    [(count, rows)] = _found(result, scope.who, (_OVERDUE,), limit)
    return count, [Item("overdue", row[0].patient, row[0]) for row in rows]


def _list_invitations(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    result = db.session.execute(_statement(_invitations_statement, scope.who, limit),
                                scope.params)
    [(count, rows)] = _found(result, scope.who, (_INVITATIONS,), limit)
    return count, [Item("invitation", row[1], row[0], expired=row[0].expires_at <= now)
                   for row in rows]


def _invitations_statement(who: str, limit: int) -> Select:
    order = (AccountToken.created_at.desc(), AccountToken.id.desc())
    picked = _picks(who, (_INVITATIONS,), None, AccountToken.id, order, limit)
    return (select(AccountToken, Patient).join(picked, picked.c.id == AccountToken.id)
            .join(AccountToken.user).join(Patient, Patient.user_id == User.id)
            .add_columns(picked.c.pick, picked.c.total).order_by(*order)
            .options(contains_eager(AccountToken.user), joinedload(Patient.practitioner)))


def _sections(scope: Scope, keys, now: datetime, limit: int) -> dict[str, tuple[int, list]]:
    """(count, lines) of the sections ``keys``: one statement per kind of row, so that
    sections listing the same kind (intakes with and without red flags; outcomes worsening
    and improved) share theirs, and each list's statement counts its rows too; only the
    outcomes are counted apart. Each statement costs about as much to plan as to run."""
    found: dict[str, tuple[int, list[Item]]] = {}
    if "red-flags" in keys:
        # The whole clinic's, whatever the scope (SPEC 5.1): every practitioner sees every
        # red flag until one acknowledges it. The safety reports lead: they are acute.
        clinic = Scope("all", scope.user_id)
        if scope.who == "all" and "new-intakes" in keys:
            intakes = _list_intakes((True, False), clinic, now, limit)
            found["new-intakes"] = intakes[False]
        else:
            intakes = _list_intakes((True,), clinic, now, limit)
        safety, alerts = _list_safety(clinic, now, limit)
        flagged, intakes_flagged = intakes[True]
        found["red-flags"] = (safety + flagged, (alerts + intakes_flagged)[:limit])
    if "consent-withdrawn" in keys:
        from portal.clinic.worklist import withdrawals  # it builds on this module
        found["consent-withdrawn"] = withdrawals.listed(scope, now, limit)
    if "new-intakes" in keys and "new-intakes" not in found:
        found["new-intakes"] = _list_intakes((False,), scope, now, limit)[False]
    if "clearances-to-review" in keys:
        found["clearances-to-review"] = _list_clearances(scope, now, limit)
    if "correction-requests" in keys:
        from portal.clinic.worklist import requests  # it builds on this module
        found["correction-requests"] = requests.listed(scope, now, limit)
    treated = tuple(key for key in ("worsening", "improved") if key in keys)
    if treated:
        lines = _list_outcomes(treated, scope, now, limit)
        numbers = _outcome_counts(scope, treated)
        found.update({key: (numbers[key], lines[key]) for key in treated})
    if "ratings-overdue" in keys:
        found["ratings-overdue"] = _list_overdue(scope, now, limit)
    follow_ups = tuple(key for key in ("follow-ups-answered", "follow-ups-overdue")
                       if key in keys)
    if follow_ups:
        from portal.clinic.worklist import followups  # it builds on this module
        found.update(followups.listed(follow_ups, scope, now, limit))
    if "invitations" in keys:
        found["invitations"] = _list_invitations(scope, now, limit)
    return found


def build(scope: Scope, keys=SECTIONS) -> dict[str, Section]:
    """The sections ``keys`` (every one by default), in the worklist's order."""
    found = _sections(scope, keys, clock.now(), current_app.config["WORKLIST_LIST_SIZE"])
    return {key: Section(key, *found[key]) for key in SECTIONS if key in keys}


def counts() -> dict[str, int]:
    """How many things wait for the whole clinic, by kind, counted by the worklist's own
    statements (the daily digest, SPEC 6.2). An intake with red flags is counted under red
    flags only, as on the worklist."""
    from portal.clinic.worklist import requests, withdrawals  # they build on this module
    scope, now = Scope("all", 0), clock.now()
    intakes = _list_intakes((True, False), scope, now, 1)
    return {
        "intake_red_flags": intakes[True][0],
        "safety_alerts": _list_safety(scope, now, 1)[0],
        "consent_withdrawn": withdrawals.listed(scope, now, 1)[0],
        "new_intakes": intakes[False][0],
        "clearances": _list_clearances(scope, now, 1)[0],
        "correction_requests": requests.listed(scope, now, 1)[0],
        "overdue_ratings": _list_overdue(scope, now, 1)[0],
        "invitations": _list_invitations(scope, now, 1)[0],
    }
