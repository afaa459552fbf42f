"""The migration that brought disposal (SPEC 11.2) cannot be undone once a record has been
disposed of: its downgrade would make the emptied patient a discharged one again. The one
after it, which keeps incident entries' earlier versions, refuses first (SQLite commits each
revision's step on its own): a refused downgrade leaves the incident history whole."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from portal import clock
from portal.extensions import db
from portal.models import Patient, PrivacyIncident, RecordDisposal
from portal.models.rights import PrivacyIncidentVersion
from tests.factories import make_patient
from tests.test_migrations import (  # noqa: F401 (the fixtures)
    _flask_db,
    empty_database,
    migrating_app,
)

BEFORE = "f1b3d5e7a9c2"  # the revision before a3c5e7f9b1d4
VERSIONS = "a3c5e7f9b1d4"  # the revision before b5d7f9a1c3e6 (incident versions)


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


def _dispose_of_one():
    patient = make_patient().patient
    db.session.add(RecordDisposal(
        patient_id=patient.id, patient_public_id=patient.public_id, status="disposed",
        registered_at=patient.created_at, last_visit_at=patient.created_at,
        retention_ends_on=date(2026, 1, 1), disposed_at=clock.now()))
    db.session.get(Patient, patient.id).status = "disposed"


def _edited_incident():
    """An entry at version 2, its version 1 kept in privacy_incident_versions."""
    values = {"discovered_at": clock.now(), "description": "Summary sent to the wrong address.",
              "records_affected": "One patient", "real_risk": True,
              "risk_reasoning": "Diagnosis included."}
    incident = PrivacyIncident(**values, version=2)
    db.session.add(incident)
    db.session.flush()
    db.session.add(PrivacyIncidentVersion(incident_id=incident.id, version=1,
                                          edited_at=clock.now(), **values))


def _history(app) -> tuple[list, list]:
    with app.app_context(), db.engine.connect() as conn:
        kept = conn.execute(text(
            "SELECT incident_id, version, description FROM privacy_incident_versions")).all()
        versions = conn.execute(text("SELECT version FROM privacy_incidents")).scalars().all()
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    with app.app_context():
        db.engine.dispose()
    return [tuple(row) for row in kept], [*versions, *current]


@pytest.mark.parametrize("disposed", [True, False], ids=["disposed", "history-only"])
def test_a_refused_downgrade_keeps_the_incident_history(migrating_app, caplog, disposed):
    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context():
        _edited_incident()
        if disposed:
            _dispose_of_one()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    before = _history(migrating_app)

    for target in (BEFORE, VERSIONS):
        result = migrating_app.test_cli_runner().invoke(args=["db", "downgrade", target])
        assert result.exit_code != 0, target
        assert "Cannot downgrade" in caplog.text
        # The earlier versions, the entry's version number and the revision are all kept.
        assert _history(migrating_app) == before
    assert before[0] == [(1, 1, "Summary sent to the wrong address.")]
    assert before[1][:1] == [2]
