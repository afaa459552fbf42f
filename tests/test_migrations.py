"""Migrations (SPEC 8.6): `flask db upgrade` builds the schema from nothing on the backend
under test, `flask db downgrade base` takes it all away again, and the migrated schema is
exactly what the models describe (autogenerate would find nothing to do)."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, inspect, text

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.conftest import BACKEND, POSTGRES_ADMIN_URL

TABLES = {"users", "account_tokens", "user_sessions", "recovery_codes", "patients",
          "clinic_settings", "audit_events", "outbox_messages"}
TABLES |= {"browser_sessions"}
TABLES |= {"documents", "stored_chunks"}
TABLES |= {"intake_responses", "intake_amendments", "intake_stashes", "consent_signatures"}
TABLES |= {"treatment_sessions", "session_ratings", "treatment_outcomes", "outcome_points"}
TABLES |= {"consent_discussions", "safety_reports"}
TABLES |= {"record_requests", "privacy_incidents", "record_disposals", "follow_ups"}
TABLES |= {"privacy_incident_versions"}


@pytest.fixture
def empty_database(tmp_path):
    """A URL to a database with nothing in it: a new file, or a new PostgreSQL database."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"ims_portal_migrations_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def migrating_app(empty_database, tmp_path):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=empty_database,
                  MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    app = create_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def naive(moment):
    """A time read back with plain SQL, comparable with a naive UTC datetime (SQLite gives
    the column's text)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=None)


def _flask_db(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, result.exception)


def _tables(app) -> set[str]:
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    return names


def _triggers(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid IN ('audit_events'::regclass, "
                "'privacy_incidents'::regclass)")).scalars()
        else:
            rows = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('audit_events', 'privacy_incidents')")).scalars()
        return set(rows)


def _schema_diff(app) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_downgrade_to_base_and_upgrade_again(migrating_app):
    assert _tables(migrating_app) == set()

    _flask_db(migrating_app, "upgrade")
    assert _tables(migrating_app) == TABLES | {"alembic_version"}
    expected_triggers = ({"audit_events_no_change"} if BACKEND == "postgresql"
                         else {"audit_events_no_update", "audit_events_no_delete"})
    expected_triggers |= {"privacy_incidents_no_delete"}
    assert _triggers(migrating_app) == expected_triggers

    _flask_db(migrating_app, "downgrade", "base")
    assert _tables(migrating_app) <= {"alembic_version"}
    if BACKEND == "postgresql":
        with migrating_app.app_context(), db.engine.connect() as conn:
            assert conn.scalar(text(
                "SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_append_only'")) == 0

    _flask_db(migrating_app, "upgrade")
    assert _tables(migrating_app) == TABLES | {"alembic_version"}
    assert _triggers(migrating_app) == expected_triggers
    assert _schema_diff(migrating_app) == []


def test_migrated_schema_matches_the_models(migrating_app):
    _flask_db(migrating_app, "upgrade")
    diff = _schema_diff(migrating_app)
    assert diff == [], "models and migrations differ; run `flask db migrate`:\n" + "\n".join(
        map(repr, diff))
    # The database is at the newest revision.
    with migrating_app.app_context(), db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    with migrating_app.app_context():
        config = migrating_app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert set(current) == set(heads) and len(heads) == 1


def test_the_app_works_on_a_freshly_migrated_database(migrating_app):
    _flask_db(migrating_app, "upgrade")
    client = migrating_app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_old_safety_answers_become_safety_reports(migrating_app):
    """Revision e7a9c1b3d5f2 moves the safety question out of the rating: each old "yes" is
    copied into safety_reports, open ones stay open (no alert is lost) and handled ones come
    acknowledged by whoever handled them; every old rating keeps "pain now" as its score."""
    _flask_db(migrating_app, "upgrade", "d4f6a8c0e2b3")
    tables = db.metadata.tables
    now = datetime(2026, 11, 20, 15, 0)
    aware = now.replace(tzinfo=UTC)
    with migrating_app.app_context(), db.engine.begin() as conn:
        staff = conn.execute(tables["users"].insert().values(
            email="pt@example.org", name="Dr. Old", role="practitioner")).inserted_primary_key[0]
        ids = []
        for n in range(3):
            user = conn.execute(tables["users"].insert().values(
                email=f"p{n}@example.org", name=f"P {n}", role="patient")
            ).inserted_primary_key[0]
            # The table as that revision had it (the model's has later columns).
            patients = Table("patients", MetaData(), autoload_with=conn)
            patient = conn.execute(patients.insert().values(
                user_id=user, public_id=f"old-patient-{n}", status="in_treatment",
                created_at=aware, last_activity_at=aware, search_text="")
            ).inserted_primary_key[0]
            session = conn.execute(tables["treatment_sessions"].insert().values(
                patient_id=patient, recorded_by_id=staff, treated_at=aware, regions=[],
                rating_opens_at=aware, corrections=[])).inserted_primary_key[0]
            ids.append((patient, session))
        for n, (patient, session) in enumerate(ids):
            conn.execute(text(
                "INSERT INTO session_ratings (public_id, session_id, patient_id, pain_now, "
                "pgic, soreness, soreness_duration, breathing_alert, alert_handled_at, "
                "alert_handled_by_id, created_at, updated_at) VALUES (:pid, :s, :p, 4, 1, 2, "
                "'none', :alert, :handled, :by, :at, :at)"),
                {"pid": f"r{n}", "s": session, "p": patient, "alert": n < 2,
                 "handled": now if n == 1 else None, "by": staff if n == 1 else None,
                 "at": now})
        db.engine.dispose()

    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context(), db.engine.connect() as conn:
        reports = conn.execute(text(
            "SELECT patient_id, session_id, kind, alert, acknowledged_at, acknowledged_by_id, "
            "acknowledgement_note FROM safety_reports ORDER BY patient_id")).all()
        questions = set(conn.execute(text(
            "SELECT score_question FROM session_ratings")).scalars())
        db.engine.dispose()
    assert [(r.patient_id, r.session_id, r.kind, bool(r.alert)) for r in reports] == [
        (ids[0][0], ids[0][1], "check", True), (ids[1][0], ids[1][1], "check", True)]
    assert reports[0].acknowledged_at is None and reports[0].acknowledgement_note is None
    assert naive(reports[1].acknowledged_at) == now and reports[1].acknowledged_by_id == staff
    assert reports[1].acknowledgement_note
    assert questions == {"pain_now"}

    _flask_db(migrating_app, "downgrade", "d4f6a8c0e2b3")
    assert "safety_reports" not in _tables(migrating_app)
