"""The worklist's follow-up sections (SPEC 5.1, 12.1): ``follow-ups-answered``, the
follow-ups after discharge answered in the last two weeks (newest first, each saying whether
the improvement was kept), and ``follow-ups-overdue``, those still unanswered two weeks after
they were e-mailed, when the e-mail and its one reminder have had their time, while their
link still works (oldest due first: someone may call the patient). Scoped like the
other sections; both lists come from one statement, built at each request (both move with
the time), by the worklist's own helpers (portal/clinic/worklist/services.py), which import
this module when a section is asked for. What "overdue" and "kept" mean:
portal/treatment/after_discharge.py."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from portal.clinic.worklist import services as work
from portal.clinic.worklist.scope import Scope, scoped
from portal.clinic.worklist.sections import Item
from portal.extensions import db
from portal.models import FollowUp
from portal.treatment import after_discharge

KEYS = ("follow-ups-answered", "follow-ups-overdue")


def _answered(part, now: datetime | None) -> Select:
    assert now is not None
    return scoped(select(FollowUp).where(FollowUp.status == "answered",
                                         FollowUp.answered_at >= now - after_discharge.RECENT),
                  FollowUp.patient_id, part)


def _overdue(part, now: datetime | None) -> Select:
    assert now is not None
    return scoped(select(FollowUp).where(FollowUp.status == "sent",
                                         FollowUp.sent_at <= after_discharge.overdue_before(now),
                                         FollowUp.token_expires_at > now),
                  FollowUp.patient_id, part)


SOURCES = {"follow-ups-answered": work.Rows(_answered, split=True),
           "follow-ups-overdue": work.Rows(_overdue, split=True)}

# One order serves both: the answered ones newest first; the overdue ones (never answered)
# tie on it and come by their due date, oldest first. Each list is sorted on its own.
ORDER = (FollowUp.answered_at.desc(), FollowUp.due_at, FollowUp.id)


def listed(keys: tuple[str, ...], scope: Scope, now: datetime,
           limit: int) -> dict[str, tuple[int, list[Item]]]:
    """(count, lines) of each of ``keys`` (among ``KEYS``), in one statement."""
    sources = tuple(SOURCES[key] for key in keys)
    stmt = work._first(scope.who, sources, now, FollowUp, ORDER, limit, FollowUp.patient)
    found = work._found(db.session.execute(stmt, scope.params), scope.who, sources, limit)
    return {key: (count, [Item(_kind(key), row[0].patient, row[0]) for row in rows])
            for key, (count, rows) in zip(keys, found)}


def _kind(key: str) -> str:
    return "follow_up" if key == "follow-ups-answered" else "follow_up_overdue"
