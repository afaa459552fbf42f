"""The bulk demo's follow-ups after discharge (SPEC 12.1, 9): every discharge gets the
clinic's follow-ups, most answered a few days after they fell due, "kept" by the portal's
rule, so the outcomes page shows "improvement kept" with the bulk demo; the same seed gives
the same follow-ups, and the patients themselves are those the seed gave before."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import clock, outcomes
from portal.clinic.outcomes import services as outcome_stats
from portal.demo import bulk as bulk_demo
from portal.demo.bulk import Generator
from portal.extensions import db
from portal.models import FollowUp, Patient, User
from tests.factories import make_practitioner


def test_discharged_patients_get_answered_follow_ups(app):
    doctor = make_practitioner()
    bulk_demo.generate(80, seed=3, practitioners=[doctor], weights={"discharged": 1})
    rows = list(db.session.scalars(select(FollowUp)))
    patients = list(db.session.scalars(select(Patient).where(Patient.status == "discharged")))
    assert len(patients) == 80 and len(rows) == 160  # 6 and 12 weeks each
    now = clock.now()
    answered = [r for r in rows if r.status == "answered"]
    assert 0.5 < len(answered) / len(rows) < 0.9
    for row in rows:
        assert row.weeks in (6, 12)
        assert row.due_at == row.discharged_at + timedelta(weeks=row.weeks)
        assert row.status in ("answered", "sent", "scheduled")
    for row in answered:
        assert row.due_at < row.answered_at <= now
        assert row.kept == (outcomes.nprs_improved(row.baseline, row.pain_average)
                            if row.baseline is not None else None)
    six = {k.weeks: k for k in outcome_stats.compute(outcome_stats.OutcomeFilters()).kept_at}[6]
    assert six.improved > 0 and 0 < six.kept <= six.improved


def test_the_same_seed_gives_the_same_follow_ups(app):
    staff = [User(id=1, name="A")]

    def plans(seed: int) -> list:
        generator = Generator(seed, 0, staff, "not a real hash", {"discharged": 1})
        # Times follow the clock, which moves between the two runs: what was chosen.
        return [(plan.user["email"], [(f["public_id"], f["weeks"], f["status"],
                                       f.get("pain_average"), f.get("kept"))
                                      for f in plan.follow_ups])
                for plan in (generator.plan() for _ in range(20))]

    first = plans(5)
    assert first == plans(5) and first != plans(6)
    assert all(len(follow_ups) == 2 for _email, follow_ups in first)
