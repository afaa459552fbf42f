"""The demo's discharged patient (portal/demo/followups.py): discharged seven weeks ago, the
6-week follow-up answered (kept by the improvement rule), the 12-week one scheduled."""
from __future__ import annotations

from datetime import timedelta

from portal import audit, clock
from portal.demo import followups as demo
from portal.extensions import db
from portal.followups import services
from portal.models import Patient
from tests.factories import make_practitioner
from tests.followups.helpers import follow_ups_of, treated


def test_a_discharged_patient_with_the_6_week_follow_up_answered(app):
    user = treated(pains=(7, 6, 4, 3))
    patient = db.session.get(Patient, user.patient.id)
    six, twelve = demo.seed(patient, make_practitioner())
    db.session.refresh(patient)
    assert patient.status == "discharged" and patient.discharge_reason == "completed"
    ago = clock.now() - patient.discharged_at
    assert demo.DISCHARGED_AGO <= ago < demo.DISCHARGED_AGO + timedelta(minutes=1)
    assert (six.weeks, six.status, twelve.weeks, twelve.status) == \
        (6, "answered", 12, "scheduled")
    # Last rating 3, answered one point up: 4 against a baseline of 6 is kept (2 points, 33%).
    assert (six.baseline, six.pain_average, six.kept) == (6, 4, True)
    assert six.answered_at == six.due_at + timedelta(days=2) <= clock.now()
    assert six.psfs == [{"activity": "Lifting groceries", "score": 6},
                        {"activity": "Gardening", "score": 8}]
    assert services.is_open(six) is False and services.open_for(patient) == []
    assert twelve.due_at > clock.now()
    assert [f.status for f in follow_ups_of(user)] == ["answered", "scheduled"]
    assert audit.verify_chain().ok
