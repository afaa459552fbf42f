"""The demo's records read in clinical order, as the generators make them (issue 14): for
every patient of ``flask seed-demo`` and of the bulk generator, joined before the intake is
started, the consent signed before the intake is sent, the clearance letter uploaded and
accepted (dated by the physician before it was uploaded) before the first session, the
practitioner's consent discussion after the signature and before the first session, each
rating a day or more after its session (SPEC 4.2); nothing dated after the seed; and every recorded
session passes the treatment gate at its own time, unless it is the documented override
(a reason of 15 characters or more)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.demo import bulk as bulk_demo
from portal.extensions import db
from portal.models import (
    ConsentDiscussion,
    ConsentSignature,
    Document,
    FollowUp,
    IntakeResponse,
    Patient,
    SafetyReport,
    SessionRating,
    TreatmentSession,
    User,
)
from portal.treatment.sessions import gate

EVEN = dict.fromkeys(("invited", "intake_in_progress", "intake_submitted", "cleared",
                      "in_treatment", "discharged"), 1)


def aware(moment):
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _of(model, patient: Patient, *order) -> list:
    return list(db.session.scalars(select(model).where(model.patient_id == patient.id)
                                   .order_by(*order or (model.id,))))


def _chain(patient: Patient) -> list[tuple[str, datetime | None]]:
    """The patient's milestones, in the order the clinic meets them (absent ones left out)."""
    response = db.session.scalar(select(IntakeResponse)
                                 .where(IntakeResponse.patient_id == patient.id))
    signed = db.session.scalar(select(func.min(ConsentSignature.signed_at))
                               .where(ConsentSignature.patient_id == patient.id))
    first = db.session.scalar(select(func.min(TreatmentSession.treated_at))
                              .where(TreatmentSession.patient_id == patient.id))
    chain: list[tuple[str, datetime | None]] = [("joined", patient.created_at)]
    if response is not None:
        chain += [("intake started", response.created_at), ("consent signed", signed),
                  ("intake sent", response.submitted_at)]
    if first is not None:
        letters = [d for d in _of(Document, patient) if d.kind == "clearance"
                   and d.status == "accepted" and aware(d.created_at) < aware(first)]
        chain += [("first accepted letter uploaded", min(d.created_at for d in letters)),
                  ("and reviewed", min(d.reviewed_at for d in letters))] if letters else []
        chain += [(f"consent discussed ({d.note and 'noted'})", d.discussed_at)
                  for d in _of(ConsentDiscussion, patient, ConsentDiscussion.discussed_at)[:1]]
        chain.append(("first session", first))
    return [(name, aware(when)) for name, when in chain if when is not None]


def _moments(patient: Patient) -> list[tuple[str, datetime | None]]:
    """Every time recorded for the patient, to check that none is after the seed."""
    user = patient.user
    found = [("joined", patient.created_at), ("account", user.created_at),
             ("e-mail confirmed", user.email_confirmed_at),
             ("last activity", patient.last_activity_at), ("discharged", patient.discharged_at)]
    for r in _of(IntakeResponse, patient):
        found += [("intake", r.created_at), ("intake saved", r.updated_at),
                  ("intake sent", r.submitted_at), ("intake reviewed", r.reviewed_at)]
    found += [("signed", s.signed_at) for s in _of(ConsentSignature, patient)]
    found += [("discussed", d.discussed_at) for d in _of(ConsentDiscussion, patient)]
    for d in _of(Document, patient):
        found += [("uploaded", d.created_at), ("reviewed", d.reviewed_at)]
    for s in _of(TreatmentSession, patient):
        found += [("treated", s.treated_at), ("recorded", s.created_at),
                  ("reminded", s.reminder_sent_at)]
    for r in _of(SessionRating, patient):
        found += [("rated", r.created_at), ("rating changed", r.updated_at)]
    for r in _of(SafetyReport, patient):
        found += [("safety check", r.created_at), ("acknowledged", r.acknowledged_at)]
    return found


def _problems(patient: Patient, now: datetime) -> list[str]:
    who = patient.user.email
    wrong = []
    for (before, early), (after, late) in pairwise(_chain(patient)):
        if late < early:
            wrong.append(f"{who}: {after} {late} before {before} {early}")
    wrong += [f"{who}: {name} {when} in the future" for name, when in _moments(patient)
              if when is not None and aware(when) > now]
    today = now.date()
    for d in _of(Document, patient):
        if d.letter_date is not None and (d.letter_date > aware(d.created_at).date()
                                          or d.letter_date > today):
            wrong.append(f"{who}: letter dated {d.letter_date} after its upload")
    signatures = {s.id: s for s in _of(ConsentSignature, patient)}
    for d in _of(ConsentDiscussion, patient):
        if aware(d.discussed_at) < aware(signatures[d.signature_id].signed_at):
            wrong.append(f"{who}: consent discussed before it was signed")
    sessions = {s.id: s for s in _of(TreatmentSession, patient)}
    # A discharge comes after the last session, and its follow-ups after it (SPEC 12.1).
    if patient.discharged_at is not None:
        last = max((aware(s.treated_at) for s in sessions.values()), default=None)
        if last is not None and aware(patient.discharged_at) < last:
            wrong.append(f"{who}: discharged {patient.discharged_at} before the session "
                         f"of {last}")
    for f in _of(FollowUp, patient):
        for name, when in (("due", f.due_at), ("sent", f.sent_at),
                           ("reminded", f.reminded_at), ("answered", f.answered_at)):
            if when is not None and aware(when) < aware(f.discharged_at):
                wrong.append(f"{who}: follow-up {name} before its discharge")
            if name != "due" and when is not None and aware(when) > now:
                wrong.append(f"{who}: follow-up {name} {when} in the future")
    for r in _of(SessionRating, patient):
        if aware(r.created_at) - aware(sessions[r.session_id].treated_at) < timedelta(hours=24):
            wrong.append(f"{who}: rated less than a day after the session")
    for s in sessions.values():
        if s.status != "recorded":
            continue
        checked = gate(patient, at=aware(s.treated_at))
        overridden = (len((s.override_reason or "").strip()) >= 15
                      and set(checked.missing) <= set(s.override_gates or []))
        if not checked.open and not overridden:
            wrong.append(f"{who}: session of {s.treated_at} refused by the gate "
                         f"({checked.missing}) and not overridden")
    return wrong


def _check(patients: list[Patient]) -> None:
    now = clock.now()
    wrong = [line for patient in patients for line in _problems(patient, now)]
    assert wrong == [], "\n".join(wrong)


def test_the_named_demo_is_in_clinical_order(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    patients = db.session.scalars(select(Patient).order_by(Patient.id)).all()
    assert len(patients) >= 40
    _check(patients)
    # What the worklist demo needs: a treated patient with a consent discussion for each
    # course, one safety check waiting and one acknowledged with a note, one documented
    # override.
    treated = {s.patient_id for s in db.session.scalars(select(TreatmentSession))}
    discussed = {d.patient_id for d in db.session.scalars(select(ConsentDiscussion))}
    assert treated and treated == discussed
    reports = db.session.scalars(select(SafetyReport).where(SafetyReport.alert.is_(True))).all()
    assert any(r.acknowledged_at is None for r in reports)
    assert any(r.acknowledged_at is not None and r.acknowledgement_note for r in reports)
    overridden = db.session.scalars(select(TreatmentSession)
                                    .where(TreatmentSession.override_reason.is_not(None))).all()
    assert len(overridden) == 1 and len(overridden[0].override_reason) >= 15
    # Intakes on the current questionnaire, with its new answers; some patients over 50.
    sent = db.session.scalars(select(IntakeResponse)
                              .where(IntakeResponse.status == "submitted")).all()
    from portal.intake import services as intake
    current = intake.current_definition()
    assert {r.definition_version for r in sent} == {current.version}
    assert all("rf_spinal_surgery" in r.answers for r in sent)
    assert any(f["code"] == "age_over_50" for r in sent for f in r.flags)


@pytest.mark.parametrize("seed", [7, 11])
def test_the_generated_patients_are_in_clinical_order(app, runner, tmp_path, seed):
    app.instance_path = str(tmp_path / "instance")
    staff = db.session.scalars(select(User).where(User.role == "practitioner")).all()
    report = bulk_demo.generate(90, seed, list(staff), weights=EVEN)
    assert report.sessions > 0 and report.ratings > 0
    patients = db.session.scalars(select(Patient).order_by(Patient.id)).all()
    assert len(patients) == 90
    _check(patients)
    treated = {s.patient_id for s in db.session.scalars(select(TreatmentSession))}
    discussed = {d.patient_id for d in db.session.scalars(select(ConsentDiscussion))}
    assert treated and treated == discussed
