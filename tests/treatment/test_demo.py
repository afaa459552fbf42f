"""`flask seed-demo` (SPEC 9) makes patients in treatment: 3 to 12 sessions each, pain
improving, flat and worsening, ratings overdue, one override, one course finished and
discharged, and nothing more the second time."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from portal.clinic.worklist import services as worklist
from portal.extensions import db
from portal.models import AuditEvent, Patient, TreatmentOutcome, TreatmentSession
from portal.treatment import safety, services


def test_seed_demo_treatment(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    per_patient = dict(db.session.execute(
        select(TreatmentSession.patient_id, func.count()).group_by(TreatmentSession.patient_id)
    ).all())
    assert len(per_patient) >= 6
    assert all(3 <= n <= 12 for n in per_patient.values()), per_patient
    # All in treatment but three finished courses, discharged as completed (on the record
    # and in the audit log): one of the treatment demo's, and the two whose follow-ups
    # after discharge the demo shows (portal/demo/after_care.py).
    statuses = Counter(db.session.get(Patient, p).status for p in per_patient)
    assert statuses == {"in_treatment": len(per_patient) - 3, "discharged": 3}, statuses
    for discharged in db.session.scalars(select(Patient).where(
            Patient.status == "discharged", Patient.id.in_(per_patient))):
        assert discharged.discharge_reason == "completed" and discharged.discharged_at
        assert db.session.scalar(select(AuditEvent.action).where(
            AuditEvent.patient_id == discharged.id, AuditEvent.action == "patient.discharged"))
    statuses = Counter(db.session.scalars(select(TreatmentOutcome.status)))
    assert statuses["improved"] and statuses["worse"] and statuses["unchanged"], statuses
    data = worklist.counts()
    assert data["overdue_ratings"] >= 2 and data["safety_alerts"] == 1
    overridden = db.session.scalars(select(TreatmentSession)
                                    .where(TreatmentSession.override_reason.is_not(None))).all()
    assert len(overridden) == 1
    # Everyone else in treatment is cleared, has signed the consent and discussed it; only
    # the demo's waiting safety alert holds its patient's next session until acknowledged.
    for patient_id in per_patient:
        patient = db.session.get(Patient, patient_id)
        if patient_id != overridden[0].patient_id:
            missing = set(services.gate(patient).missing)
            if safety.unacknowledged_at(patient):
                missing.discard("red_flags")
            assert not missing, (patient.user.email, missing)

    total = db.session.scalar(select(func.count()).select_from(TreatmentSession))
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(func.count()).select_from(TreatmentSession)) == total
