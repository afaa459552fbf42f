"""The migration that brought disposal (SPEC 11.2) cannot be undone once a record has been
disposed of: its downgrade would make the emptied patient a discharged one again."""
from __future__ import annotations

from datetime import date

from sqlalchemy import text

from portal import clock
from portal.extensions import db
from portal.models import Patient, RecordDisposal
from tests.factories import make_patient
from tests.test_migrations import (  # noqa: F401 (the fixtures)
    _flask_db,
    empty_database,
    migrating_app,
)

BEFORE = "f1b3d5e7a9c2"  # the revision before a3c5e7f9b1d4


def test_the_downgrade_refuses_once_a_record_was_disposed_of(migrating_app, caplog):
    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context():
        patient = make_patient().patient
        db.session.add(RecordDisposal(
            patient_id=patient.id, patient_public_id=patient.public_id, status="disposed",
            registered_at=patient.created_at, last_visit_at=patient.created_at,
            retention_ends_on=date(2026, 1, 1), disposed_at=clock.now()))
        db.session.get(Patient, patient.id).status = "disposed"
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    result = migrating_app.test_cli_runner().invoke(args=["db", "downgrade", BEFORE])
    assert result.exit_code != 0
    assert "Cannot downgrade: records were disposed of" in caplog.text
    with migrating_app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM patients")).scalar() == "disposed"
        conn.execute(text("DELETE FROM record_disposals"))
        conn.execute(text("UPDATE patients SET status = 'discharged'"))
        conn.commit()
    with migrating_app.app_context():
        db.engine.dispose()
    _flask_db(migrating_app, "downgrade", BEFORE)  # nothing disposed of: it goes
