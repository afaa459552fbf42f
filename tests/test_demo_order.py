"""The demo's record reads in clinical order (issue 14): for every demo patient, joined
before the intake is started, consent signed before the intake is sent, the intake sent
before the clearance letter is uploaded and reviewed, and all of that before the first
session; nothing dated after now."""
from __future__ import annotations

from itertools import pairwise

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import ConsentSignature, Document, IntakeResponse, Patient, TreatmentSession


def _chain(patient: Patient) -> list[tuple[str, object]]:
    """The patient's milestones, in the order the clinic meets them (absent ones left out)."""
    response = db.session.scalar(select(IntakeResponse)
                                 .where(IntakeResponse.patient_id == patient.id))
    signed = db.session.scalar(select(func.min(ConsentSignature.signed_at))
                               .where(ConsentSignature.patient_id == patient.id))
    letters = db.session.scalars(select(Document).where(Document.patient_id == patient.id,
                                                        Document.kind == "clearance")).all()
    accepted = [d for d in letters if d.reviewed_at is not None and d.status == "accepted"]
    first = db.session.scalar(select(func.min(TreatmentSession.treated_at))
                              .where(TreatmentSession.patient_id == patient.id))
    chain = [("joined", patient.created_at)]
    if response is not None:
        chain += [("intake started", response.created_at), ("consent signed", signed),
                  ("intake sent", response.submitted_at)]
    if first is not None:
        chain += [(f"clearance uploaded ({d.status})", d.created_at) for d in accepted]
        chain += [(f"clearance reviewed ({d.status})", d.reviewed_at) for d in accepted]
        chain.append(("first session", first))
    return [(name, when) for name, when in chain if when is not None]


def test_demo_timestamps_in_clinical_order(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    now = clock.now()
    wrong = []
    patients = db.session.scalars(select(Patient)).all()
    assert len(patients) >= 10
    for patient in patients:
        chain = _chain(patient)
        for (before, early), (after, late) in pairwise(chain):
            if late < early:
                wrong.append(f"{patient.user.email}: {after} {late} before {before} {early}")
        wrong += [f"{patient.user.email}: {name} {when} in the future"
                  for name, when in chain if when > now]
        wrong += [f"{patient.user.email}: {d.status} letter in the future"
                  for d in db.session.scalars(select(Document)
                                              .where(Document.patient_id == patient.id))
                  if d.created_at > now or (d.reviewed_at and d.reviewed_at > now)]
    assert wrong == [], "\n".join(wrong)
