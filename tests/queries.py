"""Counting SQL statements: the structural guarantee that a page's queries do not grow
with the data (SPEC 8.5) is asserted with this, never with timings."""
from __future__ import annotations

from sqlalchemy import event, func, select


def queries_for(db, client, url: str, **kwargs) -> int:
    """How many SQL statements answering GET ``url`` (expected 200) executes; ``kwargs`` go
    to ``client.get`` (headers, for instance)."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url, **kwargs).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def grow_to(db, total: int, practitioners) -> None:
    """Add generated patients (portal.demo.bulk: every status, with intakes, documents,
    sessions, ratings and outcomes, shared among ``practitioners`` and generated ones)
    until the clinic has ``total``: the "1,000 patients" side of a query count."""
    from portal.demo import bulk as bulk_demo
    from portal.models import Patient

    have = db.session.scalar(select(func.count()).select_from(Patient))
    assert have < total
    bulk_demo.generate(total - have, seed=1000, practitioners=list(practitioners))
    assert db.session.scalar(select(func.count()).select_from(Patient)) == total
