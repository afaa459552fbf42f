"""`flask seed-demo` makes intakes in every state (SPEC 9), and running it again adds none."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.intake import services
from portal.intake.answers import problems
from portal.models import IntakeResponse, Patient, User


def test_demo_intakes(app, runner, db, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    assert runner.invoke(args=["seed-demo"]).exit_code == 0

    main = db.session.scalar(select(User).where(User.email == "patient@example.com"))
    half = services.response_for(main.patient)
    assert main.patient.status == "intake_in_progress"
    assert half.status == "in_progress" and half.current_step == 3
    assert {"dob", "main_complaint", "pain_map"} <= set(half.answers)
    assert "psfs" not in half.answers

    responses = list(db.session.scalars(select(IntakeResponse)))
    definition = services.current_definition()
    for response in responses:
        assert problems(definition, response.answers) == [], response.id
    sent = [r for r in responses if r.submitted]
    assert any(not r.flags for r in sent)
    assert any(r.has_red_flags for r in sent)
    assert any(r.precaution_count and not r.has_red_flags for r in sent)
    for response in sent:
        assert db.session.get(Patient, response.patient_id).status != "intake_in_progress"
        assert response.scores["nprs_baseline"] is not None
    assert services.count_new_intakes() >= 3

    count = db.session.scalar(select(func.count()).select_from(IntakeResponse))
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(IntakeResponse)) == count
