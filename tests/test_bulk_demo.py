"""`flask seed-demo --patients N` (SPEC 8.5, 9): generated patients in every status, each
with the data its status implies, outcomes that match the ratings, documents that open,
accounts that cannot sign in; more each run, and the plain demo still safe to run again."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import clock, outcomes
from portal.demo import bulk as bulk_demo
from portal.demo.bulk import DOMAIN, Generator
from portal.documents import services as documents
from portal.extensions import db as _db
from portal.intake import services as intake
from portal.models import (
    AccountToken,
    Document,
    IntakeResponse,
    Patient,
    SafetyReport,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.models.patient import DISCHARGE_REASONS, PATIENT_STATUSES
from portal.searchtext import phone_digits, search_text
from portal.storage import get_storage
from portal.treatment import intake_link
from portal.treatment import services as treatment
from tests.treatment.helpers import fresh_points, stored_points

DEMO_PASSWORD = "demo-password-123"


@pytest.fixture
def seeded(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")  # keep the developer's file alone

    def run(*args):
        result = runner.invoke(args=["seed-demo", *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result
    return run


def generated() -> list[Patient]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(Patient).join(User, User.id == Patient.user_id)
                                    .where(User.email.endswith("@" + DOMAIN))
                                    .order_by(Patient.id)))


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def check_consistent(patient: Patient) -> None:
    """The patient's status is what their data says; the outcome is what the ratings say;
    the denormalised columns match."""
    user, status = patient.user, patient.status
    response = intake.response_for(patient)
    sessions = treatment.sessions_for(patient)
    outcome = _db.session.scalar(select(TreatmentOutcome)
                                 .where(TreatmentOutcome.patient_id == patient.id))
    where = (user.email, status)
    assert user.has_password == (status != "invited"), where
    if status == "invited":
        assert response is None and _db.session.scalar(select(AccountToken.id).where(
            AccountToken.user_id == user.id, AccountToken.used_at.is_(None))), where
    elif status == "intake_in_progress":
        assert response is None or response.status == "in_progress", where
    else:
        assert response is not None and response.submitted, where
        assert intake.missing_answers(response) == [], where
        from portal.intake.consent import has_current_consent
        assert has_current_consent(patient), where
    cleared = documents.is_cleared(patient)
    if status == "intake_submitted":
        assert not cleared, where
    if status == "cleared":
        assert cleared and not sessions, where
    if status in ("invited", "intake_in_progress", "intake_submitted", "cleared"):
        assert not sessions and outcome is None, where
    else:
        assert sessions and outcome is not None, where
        rated = treatment.rated_sessions(patient, sessions)
        # Generated ratings answer the average over 24 hours, given after their rating opened.
        assert all(r.rating.score_question == "average_24h"
                   and r.rating.created_at >= r.session.rating_opens_at
                   >= r.session.treated_at + timedelta(hours=24) for r in rated), where
        ratings = [r.rating.follow_up_score for r in rated]
        baseline = intake_link.nprs_baseline(patient)
        change = outcomes.classify_nprs(baseline, ratings)
        assert (outcome.baseline, outcome.latest_nprs, outcome.rated_count, outcome.status) \
            == (baseline, change.latest, len(ratings), change.status), where
        assert stored_points(patient) == fresh_points(patient), where
        for session in sessions:
            assert treatment.rating_status(session) in ("rated", "missed", "cancelled", "due",
                                                        "overdue", "upcoming"), where
            if status == "discharged":
                assert treatment.rating_status(session) in ("rated", "missed", "cancelled")
    # Discharged: when (after the last session, the last thing on the record) and why.
    if status == "discharged":
        assert patient.discharge_reason in DISCHARGE_REASONS, where
        assert patient.discharged_at == patient.last_activity_at, where
        assert all(s.treated_at < patient.discharged_at for s in sessions), where
    else:
        assert (patient.discharged_at, patient.discharge_reason) == (None, None), where
    # The columns the patient list searches and sorts on.
    answers = intake.effective_answers(response) if response and response.submitted else {}
    assert patient.phone == phone_digits(answers.get("phone")), where
    dob = answers.get("dob")
    assert patient.date_of_birth == (date.fromisoformat(dob) if dob else None), where
    assert patient.search_text == search_text(user.name, user.email, patient.phone,
                                              patient.date_of_birth), where
    expected_change = (outcome.latest_nprs - outcome.baseline
                       if outcome and outcome.latest_nprs is not None
                       and outcome.baseline is not None else None)
    assert patient.pain_change == expected_change, where
    assert patient.last_activity_at >= patient.created_at, where
    # Safety answers live in safety_reports (SPEC 4.2), after their own session.
    assert not any(s.rating and s.rating.breathing_alert for s in sessions), where
    for report in _db.session.scalars(select(SafetyReport).where(
            SafetyReport.patient_id == patient.id)):
        assert report.session in sessions and report.created_at > report.session.treated_at
        assert report.created_at <= clock.now(), where
        if report.acknowledged_at is not None:
            assert report.acknowledged_at > report.created_at and report.acknowledgement_note


def test_the_command_adds_patients_mostly_discharged(seeded, db):
    seeded()
    before = count(Patient)
    result = seeded("--patients", "50", "--seed", "7")
    assert "p0000001 to p0000050" in result.output
    patients = generated()
    assert len(patients) == 50 and count(Patient) == before + 50
    # A clinic that has seen many patients over the years: most courses are finished.
    assert Counter(p.status for p in patients).most_common(1)[0][0] == "discharged"
    for patient in patients:
        check_consistent(patient)


EVEN = dict.fromkeys(PATIENT_STATUSES, 1)


def test_generates_consistent_patients_in_every_status(seeded, db, client):
    seeded()
    practitioners = list(_db.session.scalars(select(User).where(
        User.role == "practitioner", User.email.endswith("@example.com"))))
    report = bulk_demo.generate(60, 7, practitioners, weights=EVEN)
    assert report.patients == 60 and report.first_number == 1
    patients = generated()
    assert Counter(p.status for p in patients).keys() == set(PATIENT_STATUSES)
    for patient in patients:
        check_consistent(patient)
    # Names with accents, French and English; phones; practitioners shared out.
    names = " ".join(p.user.name for p in patients)
    assert any(c in names for c in "éèêëïîôç")
    assert {p.user.locale for p in patients} == {"en", "fr_CA"}
    assert len({p.practitioner_id for p in patients}) >= 3
    assert any(p.phone for p in patients) and any(p.date_of_birth for p in patients)
    # Ratings improve, stay flat or worsen; some intakes raise flags.
    assert count(SessionRating) > 0 and count(TreatmentSession) > count(SessionRating)
    assert set(_db.session.scalars(select(TreatmentOutcome.status))) >= {
        "improved", "unchanged"}


def test_generated_documents_open(seeded, db):
    seeded()
    bulk_demo.generate(30, 1, [], weights=EVEN)
    docs = list(_db.session.scalars(
        select(Document).join(Patient).join(User, User.id == Patient.user_id)
        .where(User.email.endswith("@" + DOMAIN))))
    assert docs
    store = get_storage()
    for doc in docs[:10]:
        content = b"".join(store.read(doc.blob_key))
        assert content.startswith(b"%PDF-") and len(content) == doc.size
        assert doc.preview_key is None


def test_generated_accounts_cannot_sign_in(seeded, db, client):
    seeded("--patients", "20")
    user = next(p.user for p in generated() if p.user.has_password)
    response = client.post("/auth/login", data={"email": user.email,
                                                "password": DEMO_PASSWORD})
    assert response.status_code != 303
    staff = _db.session.scalar(select(User).where(User.email == f"dr.singh@{DOMAIN}"))
    assert staff.role == "practitioner"
    assert client.post("/auth/login", data={"email": staff.email,
                                            "password": DEMO_PASSWORD}).status_code != 303


def test_each_run_adds_more_and_the_plain_demo_stays_safe(seeded, db):
    seeded()
    bulk_demo.generate(25, 3, [], weights=EVEN)
    counts = (count(User), count(IntakeResponse), count(TreatmentSession))
    seeded()  # the plain demo again: nothing added, generated patients left alone
    assert (count(User), count(IntakeResponse), count(TreatmentSession)) == counts
    result = seeded("--patients", "25")
    assert "p0000026 to p0000050" in result.output
    patients = generated()
    assert len(patients) == 50
    assert len({p.user.email for p in patients}) == 50
    for patient in patients[25:]:
        check_consistent(patient)


def test_the_same_seed_gives_the_same_patients(app, db):
    staff = [User(id=1, name="A"), User(id=2, name="B")]

    def plans(seed: int) -> list[tuple]:
        generator = Generator(seed, 0, staff, "not a real hash", EVEN)
        return [(plan.user["email"], plan.patient["status"], plan.patient["phone"],
                 [d["blob_key"] for d in plan.documents])
                for plan in (generator.plan() for _ in range(30))]

    assert plans(5) == plans(5)
    assert plans(5) != plans(6)
    assert {status for _e, status, _p, _d in plans(5)} <= set(PATIENT_STATUSES)
