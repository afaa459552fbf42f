"""Writing the planned patients: multi-row INSERTs, a batch at a time (the caller commits
each batch), each table's rows given the ids of the rows they belong to."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from portal.demo.bulk.draws import Plan
from portal.extensions import db
from portal.models import (
    AccountToken,
    ConsentDiscussion,
    ConsentSignature,
    Document,
    FollowUp,
    IntakeResponse,
    OutcomePoint,
    Patient,
    SafetyReport,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)


@dataclass
class Report:
    """What was generated: ``generate``'s answer, and ``write``'s for one batch."""
    patients: int = 0
    practitioners: int = 0
    intakes: int = 0
    documents: int = 0
    sessions: int = 0
    ratings: int = 0
    first_number: int = 0


def _insert(model, rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """One multi-row INSERT (RETURNING the ids in the rows' order, if asked)."""
    if not rows:
        return []
    # Every row names the same columns: an optional value left out is NULL.
    columns = {key for row in rows for key in row}
    rows = [row if len(row) == len(columns) else {key: row.get(key) for key in columns}
            for row in rows]
    table = model.__table__
    if returning:
        return list(db.session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
    db.session.execute(insert(table), rows)
    return []


@dataclass
class _Rows:
    """The rows of the plans below their user and patient, with those ids filled in."""
    tokens: list[dict[str, Any]] = field(default_factory=list)
    intakes: list[tuple[Plan, dict[str, Any]]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sessions: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


def _gather(plans: list[Plan], user_ids: list[int], patient_ids: list[int]) -> _Rows:
    rows = _Rows()
    for plan, user_id, patient_id in zip(plans, user_ids, patient_ids):
        if plan.token:
            rows.tokens.append({**plan.token, "user_id": user_id})
        if plan.intake:
            rows.intakes.append((plan, {**plan.intake, "patient_id": patient_id}))
        for doc in plan.documents:
            rows.documents.append({**doc, "patient_id": patient_id, "uploaded_by_id": user_id})
        rows.blobs += plan.blobs
        rows.sessions += [({**s, "patient_id": patient_id}, r) for s, r in plan.sessions]
        if plan.outcome:
            rows.outcomes.append({**plan.outcome, "patient_id": patient_id})
        rows.points += [{**point, "patient_id": patient_id} for point in plan.points]
        rows.follow_ups += [{**row, "patient_id": patient_id} for row in plan.follow_ups]
    return rows


def _write_intakes(intakes: list[tuple[Plan, dict[str, Any]]]) -> None:
    response_ids = _insert(IntakeResponse, [row for _plan, row in intakes], returning=True)
    signed = [(plan, {**plan.signature, "patient_id": row["patient_id"],
                      "response_id": response_id})
              for (plan, row), response_id in zip(intakes, response_ids) if plan.signature]
    signature_ids = _insert(ConsentSignature, [row for _plan, row in signed], returning=True)
    discussions = []
    for (plan, row), signature_id in zip(signed, signature_ids):
        if plan.discussion is not None:
            discussions.append({**plan.discussion, "patient_id": row["patient_id"],
                                "signature_id": signature_id})
    _insert(ConsentDiscussion, discussions)


def _write_treatment(rows: _Rows) -> None:
    sessions, points = rows.sessions, rows.points
    session_ids = _insert(TreatmentSession, [s for s, _r in sessions], returning=True)
    # A rating may carry its session's safety check ("_safety", portal.demo.bulk.courses).
    _insert(SafetyReport, [{**r.pop("_safety"), "session_id": sid,
                            "patient_id": s["patient_id"]}
                           for (s, r), sid in zip(sessions, session_ids)
                           if r is not None and "_safety" in r])
    rating_ids = _insert(SessionRating, [{**r, "session_id": sid, "patient_id": s["patient_id"]}
                                         for (s, r), sid in zip(sessions, session_ids)
                                         if r is not None], returning=True)
    _insert(TreatmentOutcome, rows.outcomes)
    if len(points) != len(rating_ids):  # one point per rating, in the same order
        raise RuntimeError("outcome points out of step with the ratings")
    _insert(OutcomePoint, [{**point, "rating_id": rating_id}
                           for point, rating_id in zip(points, rating_ids)])


def write(plans: list[Plan]) -> Report:
    from portal.storage import get_storage

    user_ids = _insert(User, [p.user for p in plans], returning=True)
    for plan, user_id in zip(plans, user_ids):
        plan.patient["user_id"] = user_id
    patient_ids = _insert(Patient, [p.patient for p in plans], returning=True)
    rows = _gather(plans, user_ids, patient_ids)
    _insert(AccountToken, rows.tokens)
    _write_intakes(rows.intakes)
    get_storage().write_many(rows.blobs)
    _insert(Document, rows.documents)
    _write_treatment(rows)
    _insert(FollowUp, rows.follow_ups)
    return Report(patients=len(plans), intakes=len(rows.intakes),
                  documents=len(rows.documents), sessions=len(rows.sessions),
                  ratings=sum(1 for _s, r in rows.sessions if r is not None))
