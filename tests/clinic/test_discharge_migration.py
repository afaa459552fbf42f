"""The migration that keeps when and why a patient was discharged fills it for the patients
discharged already (SPEC 5.3, 8.6): the latest discharge in the audit log, else the last
activity without a reason; other patients get nothing."""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from tests.clinic.test_search_migration import users
from tests.test_migrations import _flask_db, empty_database, migrating_app, naive  # noqa: F401

BEFORE = "e4f8a2c6b1d3"

patients = sa.table("patients", *(sa.column(c) for c in (
    "id", "public_id", "user_id", "status", "created_at", "last_activity_at", "search_text")))
events = sa.table("audit_events", *(sa.column(c) for c in (
    "id", "created_at", "action", "patient_id", "detail", "prev_hash", "hash")))


def _person(conn, n: int, name: str, status: str, activity: datetime) -> None:
    conn.execute(users.insert().values(id=n, public_id=f"u{n}", email=f"p{n}@example.org",
                                       name=name, role="patient", active=True,
                                       failed_logins=0, created_at=activity))
    conn.execute(patients.insert().values(id=n, public_id=f"p{n}", user_id=n, status=status,
                                          created_at=activity, last_activity_at=activity,
                                          search_text=name.lower()))


def _event(conn, n: int, patient_id: int, action: str, at: datetime, detail: dict) -> None:
    conn.execute(events.insert().values(id=n, created_at=at, action=action,
                                        patient_id=patient_id, detail=json.dumps(detail),
                                        prev_hash=f"{n - 1:064x}", hash=f"{n:064x}"))


def test_discharged_patients_get_when_and_why(migrating_app):
    _flask_db(migrating_app, "upgrade", BEFORE)
    first, second = datetime(2026, 3, 1, 17, 0), datetime(2026, 6, 1, 17, 0)
    activity = datetime(2026, 7, 1, 9, 0)
    with migrating_app.app_context(), db.engine.begin() as conn:
        _person(conn, 1, "Twice Discharged", "discharged", activity)
        _event(conn, 1, 1, "patient.discharged", first, {"reason": "no_contact"})
        _event(conn, 2, 1, "patient.readmitted", first, {"to": "in_treatment"})
        _event(conn, 3, 1, "patient.discharged", second, {"reason": "completed"})
        _person(conn, 2, "Never Logged", "discharged", activity)
        _person(conn, 3, "Back Again", "in_treatment", activity)
        _event(conn, 4, 3, "patient.discharged", first, {"reason": "referred"})
        _event(conn, 5, 3, "patient.readmitted", second, {"to": "in_treatment"})
        if conn.dialect.name == "sqlite":  # a database with planner statistics
            conn.execute(sa.text("ANALYZE"))
    with migrating_app.app_context():
        db.engine.dispose()

    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context(), db.engine.connect() as conn:
        rows = {row.id: (row.discharged_at, row.discharge_reason) for row in conn.execute(
            sa.text("SELECT id, discharged_at, discharge_reason FROM patients"))}
        if conn.dialect.name == "sqlite":
            # SQLite copied the table to add the constraint: its statistics are made again.
            assert conn.execute(sa.text(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'patients'")).scalar()
        db.engine.dispose()

    assert {k: (naive(at), reason) for k, (at, reason) in rows.items()} == {
        1: (second, "completed"), 2: (activity, None), 3: (None, None)}
