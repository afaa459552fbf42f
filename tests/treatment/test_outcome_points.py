"""The stored outcome points (portal.models.OutcomePoint) that the clinic's outcome figures
add up (SPEC 5.4, 8.5): after every change the treatment services make (a rating, a rating
changed, a session recorded before others, a session moved or cancelled, a new baseline),
the patient's rows are exactly what portal.outcomes.course_points gives for the record as
it now stands."""
from __future__ import annotations

from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.models import Patient
from portal.treatment import services
from tests.treatment.helpers import (
    fresh_points,
    history,
    make_treatable,
    rate,
    rating_input,
    record,
    stored_points,
)


def check(patient: Patient) -> list[tuple]:
    rows = stored_points(patient)
    assert rows == fresh_points(patient)
    return rows


def test_points_follow_every_change(app, doctor):
    user = make_treatable(baseline=6)
    patient = user.patient
    sessions = history(user, [5, None, 4])  # 3 weeks, 2 weeks (unrated), 1 week ago
    rows = check(patient)
    assert [(r[1], r[5], r[6]) for r in rows] == [(1, "unchanged", None), (3, "improved", 3)]

    # A new session, rated: one more point, which becomes the current one.
    new = record(user, doctor, hours_ago=26)
    rate(new, pain=7)
    rows = check(patient)
    assert [(r[1], r[5], r[8] is None) for r in rows][-2:] == [(3, "improved", False),
                                                               (4, "worse", True)]

    # The patient changes their rating (within the editing window).
    services.save_rating(new, user, rating_input(3))
    rows = check(patient)
    assert rows[-1][5] == "improved"

    # A session given before all the others, recorded and rated then, stored after them:
    # every number moves up. (Recorded now, it could no longer be rated: its rating closed
    # 7 days after the session.)
    clock.advance(days=-40)
    early = record(user, doctor)
    rate(early, pain=6)
    clock.advance(days=40)
    rows = check(patient)
    assert [r[1] for r in rows] == [1, 2, 4, 5]

    # The unrated session is cancelled: the later ones move down again.
    services.cancel_session(db.session.get(type(sessions[1]), sessions[1].id), doctor,
                            "Entered twice")
    rows = check(patient)
    assert [r[1] for r in rows] == [1, 2, 3, 4]

    # A rated session is cancelled: its point goes.
    services.cancel_session(db.session.get(type(sessions[0]), sessions[0].id), doctor,
                            "Wrong patient")
    rows = check(patient)
    assert len(rows) == 3 and sessions[0].rating.id not in [r[0] for r in rows]

    # A session moved in time, before the others.
    moved = db.session.get(type(sessions[2]), sessions[2].id)
    services.correct_session(moved, doctor, services.SessionInput(
        treated_at=clock.now() - timedelta(days=60), regions=moved.regions), "Wrong date")
    rows = check(patient)
    assert rows[0][0] == moved.rating.id and rows[0][1] == 1

    # A practitioner's baseline: every change and status follows it.
    services.set_baseline(patient, doctor, 9, "Intake answered on a good day")
    rows = check(patient)
    assert [r[4] for r in rows] == [r[2] - 9 for r in rows]


def test_no_baseline_and_no_ratings(app, doctor):
    user = make_treatable(baseline=None)
    patient = user.patient
    session = record(user, doctor, override="Clearance seen on paper")
    assert stored_points(patient) == []
    rate(session, pain=5)
    assert [(r[4], r[5], r[8]) for r in check(patient)] == [(None, "unknown", None)]



def test_an_intake_amendment_moves_the_baseline_at_once(app, doctor):
    from portal.intake import services as intake
    from portal.intake.forms import StepInput
    from portal.models import TreatmentOutcome

    user = make_treatable(baseline=6)
    history(user, [4])  # 2 points and 33% below 6: improved
    patient = db.session.get(Patient, user.patient.id)
    assert [r[5] for r in stored_points(patient)] == ["improved"]
    response = intake.submitted_response(patient)
    result = intake.amend(patient, doctor, response, 2, StepInput(values={"nprs_average": 5}),
                          "Misread the question")
    assert result.amendment is not None
    # No rating and no chart view since: the outcome and its points follow already.
    assert [(r[4], r[5]) for r in check(patient)] == [(-1, "unchanged")]
    outcome = db.session.scalar(db.select(TreatmentOutcome)
                                .where(TreatmentOutcome.patient_id == patient.id))
    assert (outcome.baseline, outcome.status) == (5, "unchanged")
    assert db.session.get(Patient, patient.id).pain_change == -1
