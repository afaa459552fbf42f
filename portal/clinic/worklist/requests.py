"""The worklist's "Correction requests" section (SPEC 11.1): correction requests not yet
answered, the one due first at the top (the due date, extended or not: PHIPA s. 55(3),
portal/rights/dates.py), each line leading to its answer in the chart
(portal/rights/correction_answers.py). Scoped like the other sections; built by the
worklist's own helpers (portal/clinic/worklist/services.py), which import this module when
the section is asked for."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from portal.clinic.worklist import services as work
from portal.clinic.worklist.scope import Scope, scoped
from portal.clinic.worklist.sections import Item
from portal.extensions import db
from portal.models import RecordRequest


def _rows(part, _now: datetime | None) -> Select:
    return scoped(select(RecordRequest)
                  .where(RecordRequest.kind == "correction",
                         RecordRequest.answered_at.is_(None)),
                  RecordRequest.patient_id, part)


CORRECTIONS = work.Rows(_rows, split=True)


def _statement(who: str, limit: int) -> Select:
    return work._first(who, (CORRECTIONS,), None, RecordRequest,
                       (RecordRequest.due, RecordRequest.id), limit, RecordRequest.patient)


def listed(scope: Scope, now: datetime, limit: int) -> tuple[int, list[Item]]:
    result = db.session.execute(work._statement(_statement, scope.who, limit), scope.params)
    [(count, rows)] = work._found(result, scope.who, (CORRECTIONS,), limit)
    return count, [Item("correction", row[0].patient, row[0], expired=row[0].due < now)
                   for row in rows]
