"""Rating a session (SPEC 4.2): the form without JavaScript, one rating per session under
concurrent submissions, the 24-hour edit window, the 7-day rating window, PSFS every third
session, the safety question, and nobody rating someone else's session."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, SessionRating, TreatmentSession
from portal.treatment import services
from tests.factories import make_admin, make_patient
from tests.markup import parse
from tests.treatment.conftest import LONG_SESSIONS, signed_in
from tests.treatment.helpers import ACTIVITIES, form_data, rate, record


def rating_url(session) -> str:
    return f"/me/sessions/{session.public_id}/rating"


def ratings_of(session) -> list[SessionRating]:
    db.session.expire_all()
    return list(db.session.scalars(select(SessionRating)
                                   .where(SessionRating.session_id == session.id)))


def test_the_form_is_real_radio_groups(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    html = patient_client.get(rating_url(session)).get_data(as_text=True)
    doc = parse(html)
    legends = [e.text.strip() for e in doc.find_all("legend")]
    for question in ("How much pain do you have now?", "how has your pain changed?",
                     "How sore were", "How long did the soreness last?"):
        assert any(question in text for text in legends), question
    radios = doc.find_all("input", type="radio", name="pain_now")
    assert [r.attrs["value"] for r in radios] == [str(n) for n in range(11)]
    pgic = doc.find_all("input", type="radio", name="pgic")
    assert len(pgic) == 7
    labels = {e.attrs.get("for"): e.text.strip() for e in doc.find_all("label")}
    assert labels[pgic[0].attrs["id"]] == "Very much worse"
    assert labels[pgic[-1].attrs["id"]] == "Very much better"
    assert not doc.find_all("script", src=None) and 'style="' not in html
    # No PSFS on the first session.
    assert "Lifting groceries" not in html


def test_a_patient_rates_a_session(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    home = patient_client.get("/me/").get_data(as_text=True)
    assert rating_url(session) in home
    response = patient_client.post(rating_url(session), data=form_data(
        3, pgic=2, soreness=4, duration="one_two_days", comment="Much looser."))
    assert response.status_code == 303 and response.location.endswith(rating_url(session))
    rating, = ratings_of(session)
    assert (rating.pain_now, rating.pgic, rating.soreness, rating.soreness_duration) == \
        (3, 2, 4, "one_two_days")
    assert rating.comment == "Much looser."
    assert rating_url(session) not in patient_client.get("/me/").get_data(as_text=True)
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "You can change your answers until" in page
    assert "rating.submitted" in db.session.scalars(select(AuditEvent.action))


def test_invalid_rating_form(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    response = patient_client.post(rating_url(session), data={"pain_now": "11",
                                                              "soreness": "3",
                                                              "soreness_duration": "none"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    doc = parse(html)
    assert doc.find_all(class_="error-summary")
    for name in ("pain_now", "pgic", "soreness_duration"):
        assert doc.find_all(id=f"{name}-error"), name
        # The summary's link lands on the group's first radio button.
        assert doc.find_all("a", href=f"#{name}") and doc.find_all("input", id=name)
    # What was valid is kept.
    assert doc.find_all("input", name="soreness", value="3")[0].attrs.__contains__("checked")
    assert ratings_of(session) == []


def test_editable_for_24_hours_then_read_only(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    assert patient_client.post(rating_url(session), data=form_data(5)).status_code == 303
    clock.advance(hours=23)
    assert patient_client.post(rating_url(session), data=form_data(4)).status_code == 303
    rating, = ratings_of(session)
    assert rating.pain_now == 4
    assert "rating.changed" in db.session.scalars(select(AuditEvent.action))
    clock.advance(hours=2)
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "can no longer be changed" in page and 'name="pain_now"' not in page
    response = patient_client.post(rating_url(session), data=form_data(1))
    assert response.status_code == 303 and response.location.endswith(rating_url(session))
    rating, = ratings_of(session)
    assert rating.pain_now == 4
    assert "can no longer be changed" in patient_client.get(response.location).get_data(
        as_text=True)


def test_the_window_closes_after_7_days(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    clock.advance(days=7, seconds=1)
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "The time to rate this session has ended" in page and 'name="pain_now"' not in page
    response = patient_client.post(rating_url(session), data=form_data(3))
    assert response.status_code == 303 and response.location.endswith(rating_url(session))
    assert ratings_of(session) == []
    assert rating_url(session) not in patient_client.get("/me/").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"RATING_WINDOW": timedelta(days=2),
                                         "RATING_EDIT_WINDOW": timedelta(hours=1),
                                         **LONG_SESSIONS}])
def test_the_windows_are_configurable(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    assert patient_client.post(rating_url(session), data=form_data(5)).status_code == 303
    clock.advance(minutes=61)
    patient_client.post(rating_url(session), data=form_data(2))
    assert ratings_of(session)[0].pain_now == 5
    other = record(patient, doctor)
    clock.advance(days=2)
    patient_client.post(rating_url(other), data=form_data(2))
    assert ratings_of(other) == []


def test_a_patient_cannot_rate_another_patients_session(app, patient, doctor):
    session = record(patient, doctor)
    other = make_patient()
    client = signed_in(app, other)
    assert client.get(rating_url(session)).status_code == 404
    response = client.post(rating_url(session), data=form_data(3))
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    assert ratings_of(session) == []
    # Staff do not rate either, and unknown ids are the same 404.
    admin_client = signed_in(app, make_admin())
    assert admin_client.get(rating_url(session)).status_code == 404
    assert client.get("/me/sessions/not-a-session/rating").status_code == 404


def test_a_cancelled_session_cannot_be_rated(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    services.cancel_session(session, doctor, "Wrong patient")
    assert patient_client.get(rating_url(session)).status_code == 404
    assert patient_client.post(rating_url(session), data=form_data(3)).status_code == 404


@pytest.mark.parametrize("round_", range(3))
def test_one_rating_per_session_under_concurrent_posts(app, patient, doctor, round_):
    """Two submissions of the same rating at the same moment (a double tap, a retry on a
    flaky phone connection) make one rating; the database's unique constraint is the
    last line of defence."""
    session = record(patient, doctor)
    clients = [signed_in(app, patient) for _ in range(2)]
    for client in clients:
        assert client.get(rating_url(session)).status_code == 200  # a CSRF token each
    barrier = threading.Barrier(2)
    results: list = []

    def submit(client, pain):
        barrier.wait()
        try:
            results.append(client.post(rating_url(session), data=form_data(pain)).status_code)
        except Exception as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=submit, args=(c, 3 + i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [303, 303], results
    rating, = ratings_of(session)
    assert rating.pain_now in (3, 4)
    actions = list(db.session.scalars(select(AuditEvent.action)
                                      .where(AuditEvent.action.like("rating.%"))))
    assert sorted(actions) == ["rating.changed", "rating.submitted"]


def test_the_unique_constraint_holds_without_the_service(app, patient, doctor):
    session = record(patient, doctor)
    rate(session, 3)
    from sqlalchemy.exc import IntegrityError
    db.session.add(SessionRating(session_id=session.id, patient_id=session.patient_id,
                                 pain_now=2, pgic=0, soreness=0, soreness_duration="none",
                                 breathing_alert=False, created_at=clock.now(),
                                 updated_at=clock.now()))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_psfs_every_third_session_prefilled_by_name(app, patient, patient_client, doctor):
    sessions = []
    for _ in range(3):
        sessions.append(record(patient, doctor, hours_ago=26))
    html = patient_client.get(rating_url(sessions[2])).get_data(as_text=True)
    for name, _score in ACTIVITIES:
        assert name in html
    assert "Lifting groceries" not in patient_client.get(rating_url(sessions[1])).get_data(
        as_text=True)
    # Required, like the rest.
    response = patient_client.post(rating_url(sessions[2]), data=form_data(3))
    assert response.status_code == 422 and 'id="psfs_0-error"' in response.get_data(as_text=True)
    response = patient_client.post(rating_url(sessions[2]), data=form_data(3, psfs=[6, 7]))
    assert response.status_code == 303
    rating, = ratings_of(sessions[2])
    assert rating.psfs == [{"activity": "Lifting groceries", "score": 6},
                           {"activity": "Gardening", "score": 7}]
    assert rating.psfs_mean == 6.5
    # Editing shows them again, filled in.
    doc = parse(patient_client.get(rating_url(sessions[2])).get_data(as_text=True))
    assert doc.find_all("input", name="psfs_0", value="6")[0].attrs.__contains__("checked")


def test_soreness_needs_a_duration(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    response = patient_client.post(rating_url(session), data=form_data(3, soreness=5,
                                                                        duration="none"))
    assert response.status_code == 422
    assert 'id="soreness_duration-error"' in response.get_data(as_text=True)


def test_the_rating_asks_no_safety_question(app, patient, patient_client, doctor):
    """The safety question is the safety check on the home page, open from the moment the
    session is recorded (portal/treatment/safety.py); the rating no longer asks it."""
    session = record(patient, doctor)
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "breathing" not in page and "urgent-advice" not in page
    response = patient_client.post(rating_url(session), data=form_data(3))
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == "safety_alert")) == 0


def test_my_sessions_lists_to_rate_and_rated(app, patient, patient_client, doctor):
    first = record(patient, doctor, hours_ago=30)
    rate(first, 5)
    second = record(patient, doctor, hours_ago=26)
    # Given two hours ago: its rating opens tomorrow, and the page says when.
    third = record(patient, doctor, hours_ago=2)
    html = patient_client.get("/me/sessions/").get_data(as_text=True)
    doc = parse(html)
    to_rate = doc.find_all("section", **{"aria-labelledby": "to-rate-title"})[0]
    assert rating_url(second) in str(to_rate.attrs) or rating_url(second) in html
    assert rating_url(third) not in html
    assert "You can rate this session from " in to_rate.text
    assert third.rating_opens_at.isoformat(timespec="seconds") in html
    assert "Average pain over the 24 hours before rating: 5 out of 10" in html
    assert html.index(rating_url(second)) < html.index("All my sessions")
    assert db.session.get(TreatmentSession, first.id).rating is not None
