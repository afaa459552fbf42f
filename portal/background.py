"""Asking the background worker for work (SPEC 6.4), from any layer of the portal.

A service records what must happen in its own transaction (an outbox row, a document
waiting to be checked) and names the task that will do it: ``after_commit("deliver_mail")``.
Once the transaction commits (never if it rolls back) the name goes to the task queue, so
the worker always finds the rows the request wrote. The queue and the tasks themselves are
portal.tasks, the one module that knows Huey; it sits above the features whose services its
tasks call and hands its ``dispatch`` here at start-up, so that no feature imports it.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event

from portal.extensions import db

Dispatch = Callable[[str, tuple], None]
_KEY = "portal_background"
_dispatch: list[Dispatch] = []


def set_dispatch(dispatch: Dispatch) -> None:
    """Where names go after a commit (portal.tasks.init_app); listens to the session once."""
    _dispatch[:] = [dispatch]
    session = db.session
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)


def after_commit(name: str, *args) -> None:
    """Run the task ``name`` with ``args`` once the current transaction commits (the same
    task with the same arguments once, however often it is asked for)."""
    pending = db.session.info.setdefault(_KEY, [])
    if (name, args) not in pending:
        pending.append((name, args))


def _after_commit(session) -> None:
    for name, args in session.info.pop(_KEY, []):
        if _dispatch:
            _dispatch[0](name, args)


def _after_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction only
        session.info.pop(_KEY, None)
