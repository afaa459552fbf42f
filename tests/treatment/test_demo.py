"""`flask seed-demo` (SPEC 9) makes patients in treatment: 3 to 12 sessions each, pain
improving, flat and worsening, ratings overdue, one override, and nothing more the second
time."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Patient, TreatmentOutcome, TreatmentSession
from portal.treatment import services


def test_seed_demo_treatment(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    per_patient = dict(db.session.execute(
        select(TreatmentSession.patient_id, func.count()).group_by(TreatmentSession.patient_id)
    ).all())
    assert len(per_patient) >= 6
    assert all(3 <= n <= 12 for n in per_patient.values()), per_patient
    for patient_id in per_patient:
        assert db.session.get(Patient, patient_id).status == "in_treatment"
    statuses = Counter(db.session.scalars(select(TreatmentOutcome.status)))
    assert statuses["improved"] and statuses["worse"] and statuses["unchanged"], statuses
    data = services.worklist()
    assert data["overdue_count"] >= 2 and data["safety_alert_count"] == 1
    overridden = db.session.scalars(select(TreatmentSession)
                                    .where(TreatmentSession.override_reason.is_not(None))).all()
    assert len(overridden) == 1
    # Everyone else in treatment is cleared and consented.
    for patient_id in per_patient:
        patient = db.session.get(Patient, patient_id)
        if patient_id != overridden[0].patient_id:
            assert services.gate(patient).open, patient.user.email

    total = db.session.scalar(select(func.count()).select_from(TreatmentSession))
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(func.count()).select_from(TreatmentSession)) == total
