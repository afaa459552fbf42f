"""Follow-ups after discharge on the chart's summary and on the patient's progress page
(SPEC 12.1): each with its delay, dates, pain against the baseline, PGIC, PSFS and what it
means; the patient sees their answered ones in plain words, in English and French."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal import clock
from portal.extensions import db
from portal.models import Patient
from tests.factories import make_follow_up, make_patient
from tests.markup import parse
from tests.treatment.conftest import app_config, doctor, doctor_client, signed_in  # noqa: F401
from tests.treatment.helpers import history, make_treatable

DISCHARGED = datetime(2025, 6, 2, 18, tzinfo=UTC)


def discharged(doctor, name="Dora Discharged"):
    user = make_treatable(name=name, baseline=7)
    history(user, [6, 4, 3], practitioner=doctor)
    patient = db.session.get(Patient, user.patient.id)
    patient.practitioner_id = doctor.id
    db.session.commit()
    return user


def states(doc) -> dict[str, str]:
    return {li.attrs["id"]: li.attrs["data-state"] for li in doc.find_all("li")
            if li.attrs.get("data-state")}


def test_the_chart_shows_each_follow_up_and_what_it_means(doctor, doctor_client):
    user = discharged(doctor)
    patient = user.patient
    now = clock.now()
    kept = make_follow_up(patient, weeks=6, baseline=7, pain_average=3, pgic=2,
                          psfs_mean=6.5, discharged_at=now - timedelta(weeks=13),
                          answered_at=now - timedelta(weeks=7))
    lost = make_follow_up(patient, weeks=12, baseline=7, pain_average=6, pgic=-1,
                          discharged_at=now - timedelta(weeks=13))
    late = make_follow_up(make_treatable(name="Other").patient, weeks=6)  # not this chart's
    html = doctor_client.get(f"/clinic/patients/{patient.public_id}/").get_data(as_text=True)
    doc = parse(html)
    section = doc.by_id("follow-ups")
    assert section is not None and late.public_id not in html
    assert states(doc) == {f"follow-up-{kept.public_id}": "kept",
                           f"follow-up-{lost.public_id}": "not_kept"}
    first = doc.by_id(f"follow-up-{kept.public_id}").text
    assert "6 weeks after discharge" in first and "Improvement kept" in first
    assert "3/10" in first and "baseline 7/10" in first and "Much better" in first
    assert "6.5/10" in first
    second = doc.by_id(f"follow-up-{lost.public_id}").text
    assert "Improvement not kept" in second and "A little worse" in second
    # In order of their due dates, after the sessions.
    assert html.index("summary-sessions-title") < html.index(kept.public_id) \
        < html.index(lost.public_id)


def test_improvement_reached_only_at_follow_up_is_said_so(doctor, doctor_client):
    """No responder at discharge, meeting the rule at follow-up: not "since discharge" (the
    discharge is not what it is compared with), nor "kept"."""
    patient = discharged(doctor).patient
    late = make_follow_up(patient, weeks=6, baseline=7, pain_average=3,
                          improved_at_discharge=False)
    doc = parse(doctor_client.get(f"/clinic/patients/{patient.public_id}/")
                .get_data(as_text=True))
    assert states(doc) == {f"follow-up-{late.public_id}": "improved"}
    assert "Meaningful improvement at follow-up (not at discharge)" in \
        doc.by_id(f"follow-up-{late.public_id}").text


def test_waiting_overdue_expired_declined_scheduled(doctor, doctor_client):
    patient = discharged(doctor).patient
    now = clock.now()
    rows = {
        "scheduled": make_follow_up(patient, weeks=12, status="scheduled",
                                    discharged_at=now - timedelta(weeks=1)),
        "sent": make_follow_up(patient, weeks=6, status="sent",
                               discharged_at=now - timedelta(weeks=6, days=3)),
        "overdue": make_follow_up(patient, weeks=6, status="sent",
                                  discharged_at=now - timedelta(weeks=6, days=15)),
        "unanswered": make_follow_up(patient, weeks=6, status="sent",
                                     discharged_at=now - timedelta(weeks=6, days=40)),
        "declined": make_follow_up(patient, weeks=12, status="declined",
                                   discharged_at=now - timedelta(weeks=6, days=40)),
    }
    doc = parse(doctor_client.get(f"/clinic/patients/{patient.public_id}/")
                .get_data(as_text=True))
    assert states(doc) == {f"follow-up-{row.public_id}": state for state, row in rows.items()}
    text = doc.by_id("follow-ups").text
    for label in ("Scheduled", "Sent, waiting for the answer", "Overdue", "Follow-ups declined",
                  "Not answered (the link has expired)"):
        assert label in text, label


def test_no_follow_up_yet_or_declined(doctor, doctor_client):
    patient = discharged(doctor).patient
    url = f"/clinic/patients/{patient.public_id}/"
    assert "None yet" in parse(doctor_client.get(url).get_data(as_text=True)) \
        .by_id("follow-ups").text
    patient = db.session.get(Patient, patient.id)
    patient.follow_ups_declined_at = clock.now()
    db.session.commit()
    assert "declined follow-ups" in parse(doctor_client.get(url).get_data(as_text=True)) \
        .by_id("follow-ups").text


def test_the_patient_sees_their_answers_in_plain_words(app, doctor):
    user = discharged(doctor, "Paule Patiente")
    now = clock.now()
    make_follow_up(user.patient, weeks=6, baseline=7, pain_average=3,
                   discharged_at=now - timedelta(weeks=13), answered_at=now - timedelta(weeks=7))
    make_follow_up(user.patient, weeks=12, status="sent", discharged_at=now - timedelta(weeks=13))
    other = make_patient(name="Someone Else")
    make_follow_up(other.patient, weeks=6, baseline=9, pain_average=8)
    client = signed_in(app, user)
    doc = parse(client.get("/me/progress").get_data(as_text=True))
    section = doc.by_id("my-follow-ups")
    assert section is not None
    lines = [li.text.strip() for li in section.children[-1].children]
    assert lines == ["6 weeks after discharge: average pain 3 out of 10 "
                     "(it was 7 at the start)."]

    user.locale = "fr"
    db.session.commit()
    french = parse(client.get("/me/progress").get_data(as_text=True)).by_id("my-follow-ups")
    assert "6 semaines après le congé : douleur moyenne de 3 sur 10" in \
        french.text.replace("\u202f", " ").replace("\xa0", " ")


def test_no_follow_up_section_before_an_answer(app, doctor):
    user = discharged(doctor)
    make_follow_up(user.patient, weeks=6, status="scheduled")
    html = signed_in(app, user).get("/me/progress").get_data(as_text=True)
    assert 'id="my-follow-ups"' not in html


def test_the_demos_overdue_follow_up_is_on_the_worklist_and_chart(doctor, doctor_client):
    from portal.clinic.worklist import services as worklist
    from portal.demo import followups_overdue

    user = discharged(doctor, "Owen Overdue")
    made = followups_overdue.seed(db.session.get(Patient, user.patient.id), doctor)
    assert [f.status for f in made] == ["sent", "scheduled"]
    section = worklist.build(worklist.Scope("mine", doctor.id),
                             ("follow-ups-overdue",))["follow-ups-overdue"]
    assert [item.patient.id for item in section.items] == [user.patient.id]
    doc = parse(doctor_client.get(f"/clinic/patients/{user.patient.public_id}/")
                .get_data(as_text=True))
    assert sorted(states(doc).values()) == ["overdue", "scheduled"]
