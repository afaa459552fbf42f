"""The worklist's "Consent withdrawn" section (SPEC 11.1): a patient withdrew their consent
to IMS and no practitioner has acknowledged it yet (on the chart: portal/rights/withdrawal.py).
Scoped like the other sections ("my patients" or everyone), oldest first. Its statement is
built by the worklist's own helpers (portal/clinic/worklist/services.py), which import this
module when the section is asked for."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from portal.clinic.worklist import services as work
from portal.clinic.worklist.scope import Scope, scoped
from portal.clinic.worklist.sections import Item
from portal.extensions import db
from portal.models import ConsentSignature


def _rows(part, _now: datetime | None) -> Select:
    return scoped(select(ConsentSignature)
                  .where(ConsentSignature.withdrawn_at.is_not(None),
                         ConsentSignature.withdrawal_seen_at.is_(None)),
                  ConsentSignature.patient_id, part)


WITHDRAWALS = work.Rows(_rows, split=True)


def _statement(who: str, limit: int) -> Select:
    return work._first(who, (WITHDRAWALS,), None, ConsentSignature,
                       (ConsentSignature.withdrawn_at, ConsentSignature.id), limit,
                       ConsentSignature.patient)


def listed(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    result = db.session.execute(work._statement(_statement, scope.who, limit), scope.params)
    [(count, rows)] = work._found(result, scope.who, (WITHDRAWALS,), limit)
    return count, [Item("withdrawal", row[0].patient, row[0]) for row in rows]
