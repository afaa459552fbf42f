"""What to watch for where the needle is picked up (SPEC 4.1, 5.3; CLINICAL.md "Red flags"
and "Dry needling / IMS precautions"): the record-session form and the chart header list
each precaution with the patient's own words and each red flag with its review state."""
from __future__ import annotations

from datetime import UTC, datetime

from portal.extensions import db
from portal.intake import staff
from portal.models import User
from tests.factories import make_patient
from tests.intake.helpers import make_intake
from tests.treatment.helpers import make_treatable

FLAGGED = {"pc_anticoagulant": "yes", "pc_anticoagulant_name": "apixaban <b>",
           "pc_anticoagulant_dose": "5 mg twice a day", "rf_saddle_numbness": "yes"}


def _parts(client, patient_user: User) -> tuple[str, str]:
    """(chart header, record-session form) of the sessions tab."""
    page = client.get(f"/clinic/patients/{patient_user.patient.public_id}/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    header = html[html.index('class="chart-header'):html.index('class="chart-actions')]
    record = html[html.index('id="record"'):html.index('id="session-list-title"')]
    return header, record


def _flagged(**kwargs) -> User:
    user = make_patient(name="Rose Tremblay")
    make_intake(user, **FLAGGED)
    return make_treatable(db.session.get(User, user.id), **kwargs)


def test_precaution_words_and_unreviewed_red_flag_on_both(app, doctor_client):
    user = _flagged(baseline=None)
    for part in _parts(doctor_client, user):
        assert "Precautions" in part and "Red flags" in part
        assert "apixaban &lt;b&gt;" in part and "5 mg twice a day" in part
        assert "Saddle numbness" in part
        assert "Not reviewed: no practitioner has reviewed these red flags yet." in part
        assert "apixaban <b>" not in part


def test_reviewed_red_flag_says_by_whom_and_when(app, doctor, doctor_client):
    user = _flagged(baseline=None)
    response = _response(user)
    assert staff.mark_reviewed(response, doctor, "Spoke with the patient; safe to go ahead.")
    response.reviewed_at = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    db.session.commit()
    for part in _parts(doctor_client, user):
        assert "Not reviewed" not in part
        assert "reviewed by Dr. Jordan Lee on March 4, 2026" in part


def test_french(app, doctor, doctor_client):
    doctor.locale = "fr_CA"
    db.session.commit()
    user = _flagged(baseline=None)
    for part in _parts(doctor_client, user):
        assert "Précautions" in part and "Signaux d'alarme" in part
        assert "Non examinés" in part
        assert "5 mg twice a day" in part


def test_neither_list_without_flags(app, doctor_client, patient):
    for part in _parts(doctor_client, patient):
        assert "Precautions" not in part and "Red flags" not in part


def _response(user: User):
    from portal.intake import services
    return services.submitted_response(user.patient)
