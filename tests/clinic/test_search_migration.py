"""The migration that adds the patient search columns fills them for the patients already
there (SPEC 5.2, 8.6): phone and date of birth from the submitted intake and its amendments,
the folded search text, the pain change from the stored outcome, the last activity."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from portal.extensions import db
from tests.test_migrations import _flask_db, empty_database, migrating_app  # noqa: F401

BEFORE = "a9c3e5f7b104"
WHEN = datetime(2026, 1, 5, 10, 30)

users = sa.table("users", *(sa.column(c) for c in (
    "id", "public_id", "email", "name", "role", "active", "failed_logins", "created_at")))
patients = sa.table("patients", *(sa.column(c) for c in (
    "id", "public_id", "user_id", "status", "created_at", "last_activity_at")))
responses = sa.table("intake_responses", sa.column("id"), sa.column("public_id"),
                     sa.column("patient_id"), sa.column("definition_key"),
                     sa.column("definition_version"), sa.column("status"),
                     sa.column("current_step"), sa.column("revision"),
                     sa.column("answers", sa.JSON), sa.column("created_at"),
                     sa.column("updated_at"), sa.column("submitted_at"),
                     sa.column("has_red_flags"), sa.column("red_flag_count"),
                     sa.column("precaution_count"))
amendments = sa.table("intake_amendments", sa.column("response_id"), sa.column("step"),
                      sa.column("created_at"), sa.column("reason"),
                      sa.column("changes", sa.JSON), sa.column("previous", sa.JSON))
outcomes = sa.table("treatment_outcomes", *(sa.column(c) for c in (
    "patient_id", "baseline", "latest_nprs", "rated_count", "status", "updated_at")))


def _person(conn, n: int, name: str, status: str, activity: datetime | None) -> None:
    conn.execute(users.insert().values(id=n, public_id=f"u{n}", email=f"P{n}@Example.org",
                                       name=name, role="patient", active=True,
                                       failed_logins=0, created_at=WHEN))
    conn.execute(patients.insert().values(id=n, public_id=f"p{n}", user_id=n, status=status,
                                          created_at=WHEN, last_activity_at=activity))


def _intake(conn, n: int, answers: dict, changes: list[dict]) -> None:
    conn.execute(responses.insert().values(
        id=n, public_id=f"r{n}", patient_id=n, definition_key="ims_intake",
        definition_version=1, status="submitted", current_step=7, revision=7, answers=answers,
        created_at=WHEN, updated_at=WHEN, submitted_at=WHEN, has_red_flags=False,
        red_flag_count=0, precaution_count=0))
    for change in changes:
        conn.execute(amendments.insert().values(response_id=n, step=1, created_at=WHEN,
                                                reason="typo", changes=change, previous={}))


def test_existing_patients_are_filled_in(migrating_app):
    _flask_db(migrating_app, "upgrade", BEFORE)
    later = datetime(2026, 2, 1, 9, 0)
    with migrating_app.app_context(), db.engine.begin() as conn:
        _person(conn, 1, "Hélène Côté", "in_treatment", later)
        _intake(conn, 1, {"phone": "+1 604 555 0123", "dob": "1970-01-02"},
                [{"phone": "250-555-9999"}, {"dob": "1971-03-04"}])
        conn.execute(outcomes.insert().values(patient_id=1, baseline=7, latest_nprs=4,
                                              rated_count=3, status="improved",
                                              updated_at=WHEN))
        _person(conn, 2, "ÉMILE ŒUVRE", "invited", None)
        _person(conn, 3, "Draft Dora", "intake_in_progress", WHEN)
        conn.execute(responses.insert().values(
            id=3, public_id="r3", patient_id=3, definition_key="ims_intake",
            definition_version=1, status="in_progress", current_step=2, revision=1,
            answers={"phone": "604-555-7777"}, created_at=WHEN, updated_at=WHEN,
            has_red_flags=False, red_flag_count=0, precaution_count=0))
    with migrating_app.app_context():
        db.engine.dispose()

    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context(), db.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(sa.text(
            "SELECT id, phone, date_of_birth, search_text, pain_change, last_activity_at "
            "FROM patients ORDER BY id"))}
        db.engine.dispose()
    one, two, three = rows[1], rows[2], rows[3]
    assert one.phone == "2505559999"
    assert str(one.date_of_birth)[:10] == date(1971, 3, 4).isoformat()
    assert one.search_text == "helene cote p1@example.org 2505559999 1971-03-04"
    assert one.pain_change == -3
    assert str(one.last_activity_at)[:16] == "2026-02-01 09:00"
    # No intake sent: nothing but the name and e-mail; the creation time as last activity.
    assert two.search_text == "emile oeuvre p2@example.org"
    assert two.phone is None and two.pain_change is None
    assert str(two.last_activity_at)[:16] == "2026-01-05 10:30"
    assert three.phone is None and three.search_text == "draft dora p3@example.org"

    _flask_db(migrating_app, "downgrade", BEFORE)
    _flask_db(migrating_app, "upgrade")
