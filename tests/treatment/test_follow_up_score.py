"""A fair follow-up score (SPEC 4.2-4.4; CLINICAL.md, "What the follow-up score asks"): the
rating opens a day after the session and its first question, the one compared with the
baseline, is the average pain over the past 24 hours (IMMPACT: Dworkin et al., Pain 2005);
pain now and soreness are asked apart. Ratings stored before keep their meaning: their
score is the pain at the time of rating."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage, OutcomePoint, SessionRating, TreatmentOutcome
from portal.treatment import services
from tests.factories import make_practitioner
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import ACTIVITIES, form_data, history, make_treatable, rate, record


def rating_url(session) -> str:
    return f"/me/sessions/{session.public_id}/rating"


def ratings_of(session) -> list[SessionRating]:
    db.session.expire_all()
    return list(db.session.scalars(select(SessionRating)
                                   .where(SessionRating.session_id == session.id)))


def outcome_of(user) -> TreatmentOutcome:
    db.session.expire_all()
    row = db.session.scalar(select(TreatmentOutcome)
                            .where(TreatmentOutcome.patient_id == user.patient.id))
    assert row is not None
    return row


def test_refused_at_23h59_after_the_session_accepted_at_24h00(app, patient, patient_client,
                                                             doctor):
    session = record(patient, doctor, hours_ago=0)
    assert session.rating_opens_at == session.treated_at + timedelta(hours=24)
    clock.advance(hours=23, minutes=59)
    home = patient_client.get("/me/").get_data(as_text=True)
    assert "You can rate this session from " in home and rating_url(session) not in home
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "You can rate this session from " in page and 'name="pain_average"' not in page
    # Its weekday and time, in a <time> element.
    opens = session.rating_opens_at
    assert f'<time datetime="{opens.isoformat(timespec="seconds")}">' in page
    assert re.search(r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, ", page)
    response = patient_client.post(rating_url(session), data=form_data(3))
    assert response.status_code == 303 and response.location.endswith(rating_url(session))
    assert ratings_of(session) == []
    after = patient_client.get(response.location).get_data(as_text=True)
    assert "You can rate this session from " in after
    clock.advance(minutes=1)
    page = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert 'name="pain_average"' in page
    assert patient_client.post(rating_url(session), data=form_data(3)).status_code == 303
    rating, = ratings_of(session)
    assert (rating.score_question, rating.pain_average) == ("average_24h", 3)


def test_the_service_refuses_early_too(app, patient, doctor):
    session = record(patient, doctor, hours_ago=23)
    try:
        rate(session, 4)
    except services.TreatmentError as refused:
        assert refused.code == "not_open"
        assert refused.params["opens_at"] == session.rating_opens_at
    else:
        raise AssertionError("rated before the rating opened")
    assert ratings_of(session) == []


def test_the_form_asks_the_average_first_then_pain_now_apart(app, patient, patient_client,
                                                            doctor):
    sessions = [record(patient, doctor, hours_ago=hours) for hours in (28, 27, 26)]
    doc = parse(patient_client.get(rating_url(sessions[0])).get_data(as_text=True))
    legends = [" ".join(e.text.split()) for e in doc.find_all("legend")]
    assert legends[0].startswith("Over the past 24 hours, what was your pain on average?")
    assert legends[1].startswith("How much pain do you have now?")
    assert [r.attrs["value"] for r in doc.find_all("input", type="radio",
                                                   name="pain_average")] == \
        [str(n) for n in range(11)]
    # Required, and told apart from pain now.
    data = form_data(3)
    del data["pain_average"]
    response = patient_client.post(rating_url(sessions[0]), data=data)
    assert response.status_code == 422
    assert parse(response.get_data(as_text=True)).find_all(id="pain_average-error")
    assert ratings_of(sessions[0]) == []
    # PSFS every third session, as before.
    third = patient_client.get(rating_url(sessions[2])).get_data(as_text=True)
    assert all(name in third for name, _score in ACTIVITIES) and 'name="pain_average"' in third


def test_a_new_ratings_score_is_the_average_not_pain_now(app, patient, patient_client, doctor):
    session = record(patient, doctor)
    response = patient_client.post(rating_url(session), data=form_data(3, now=8))
    assert response.status_code == 303
    rating, = ratings_of(session)
    assert (rating.pain_now, rating.pain_average, rating.follow_up_score) == (8, 3, 3)
    outcome = outcome_of(patient)
    assert (outcome.baseline, outcome.latest_nprs, outcome.status) == (6, 3, "improved")
    point = db.session.scalar(select(OutcomePoint).where(OutcomePoint.rating_id == rating.id))
    assert point is not None and point.pain == 3
    progress = patient_client.get("/me/progress").get_data(as_text=True)
    table = parse(progress).by_id("my-nprs-table")
    # Every value answered the average over 24 hours: the caption says so.
    assert table is not None and "average pain over the past 24 hours" in table.text
    assert re.findall(r'<td data-value="(\d+)"', progress.split('id="my-nprs-table"')[1]
                      .split("</table>")[0]) == ["6", "3"]
    clock.advance(hours=25)  # no longer editable: the answers, read-only
    answers = patient_client.get(rating_url(session)).get_data(as_text=True)
    assert "Average pain over the past 24 hours" in answers and "Pain when you answered" in answers


def test_an_old_rating_keeps_its_score_in_the_outcome_and_the_csv(app, doctor):
    """A rating stored before the average over 24 hours was asked: its score is the pain
    at the time of rating, said so on the chart and in the CSV."""
    user = make_treatable(name="Olive Oldrating", baseline=6)
    session, = history(user, [4], practitioner=doctor)
    rating = session.rating
    rating.score_question, rating.pain_average, rating.pain_now = "pain_now", None, 2
    db.session.commit()
    services.refresh_outcome(user.patient)
    db.session.commit()
    outcome = outcome_of(user)
    assert (outcome.latest_nprs, outcome.status) == (2, "improved")
    staff = signed_in(app, doctor)
    ratings_tab = staff.get(f"/clinic/patients/{user.patient.public_id}/ratings")
    assert "Pain at the time of rating" in ratings_tab.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(
        staff.get("/clinic/outcomes.csv").get_data().decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    question = header.index("score_question")
    assert (row[header.index("latest_nprs")], row[question]) == ("2", "pain_now")
    # A new rating after it answers the average, and the CSV says so.
    new = record(user, doctor)
    rate(new, 3, now=9)
    rows = list(csv.reader(io.StringIO(
        staff.get("/clinic/outcomes.csv").get_data().decode("utf-8-sig"))))
    assert (rows[1][header.index("latest_nprs")], rows[1][question]) == ("3", "average_24h")
    # Two questions in one chart: its table says which each value answered.
    tab = staff.get(f"/clinic/patients/{user.patient.public_id}/ratings").get_data(as_text=True)
    table = tab.split('id="chart-nprs-table"')[1].split("</table>")[0]
    assert re.findall(r'class="chart-table__question">([^<]*)<', table) == [
        "Pain at the time of rating", "Average pain over the past 24 hours"]


def test_the_issues_course_8_2_4_through_the_form(app, doctor, doctor_client):
    """Baseline 8, then 2, then 4 (the issue's course), answered through the new form with
    pain now saying something else each time: a responder with the worsening alert."""
    user = make_treatable(name="Rebound Patient", baseline=8)
    clock.advance(days=-7)  # a week ago: the first session, rated the day after it
    client = signed_in(app, user)
    first = record(user, doctor)
    assert client.post(rating_url(first), data=form_data(2, now=9)).status_code == 303
    clock.advance(days=7)
    second = record(user, doctor)
    assert client.post(rating_url(second), data=form_data(4, now=0)).status_code == 303
    outcome = outcome_of(user)
    assert (outcome.baseline, outcome.latest_nprs, outcome.status, outcome.worsening) == \
        (8, 4, "improved", True)
    page = doctor_client.get(f"/clinic/patients/{user.patient.public_id}/sessions")
    assert "Improved since starting; 2 points worse than last time." in \
        parse(page.get_data(as_text=True)).by_id("responder-alert").text


def test_french_wording_of_the_new_questions(app, doctor):
    user = make_treatable(name="Isabelle Roy", locale="fr_CA")
    client = signed_in(app, user)
    early = record(user, doctor, hours_ago=1)
    page = client.get(rating_url(early)).get_data(as_text=True)
    assert "Vous pourrez évaluer cette séance à partir du " in page
    # The weekday, in French.
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d+ ", page)
    home = client.get("/me/").get_data(as_text=True)
    assert "Vous pourrez évaluer cette séance à partir du " in home
    clock.advance(hours=24)
    page = client.get(rating_url(early)).get_data(as_text=True)
    assert "Au cours des dernières 24 heures, quelle a été votre douleur en moyenne?" in page
    assert "la pire douleur imaginable" in page
    assert "Quelle est l'intensité de votre douleur en ce moment?" in page
    data = form_data(3)
    del data["pain_average"]
    response = client.post(rating_url(early), data=data)
    assert "Choisissez un nombre de 0 à 10 pour votre douleur moyenne des dernières 24 heures." \
        in response.get_data(as_text=True)
    client.post(rating_url(early), data=form_data(3))
    clock.advance(hours=25)
    answers = client.get(rating_url(early)).get_data(as_text=True)
    assert "Douleur moyenne au cours des dernières 24 heures" in answers


def test_a_correction_moves_the_opening_with_the_session(app, patient, doctor):
    session = record(patient, doctor, hours_ago=30)
    assert services.rating_status(session) == "due"
    moved = clock.now() - timedelta(hours=2)
    services.correct_session(session, make_practitioner(), services.SessionInput(
        treated_at=moved, regions=session.regions), "Entered the wrong day")
    assert session.rating_opens_at == moved + timedelta(hours=24)
    assert services.rating_status(session) == "upcoming"


def rating_due_mails() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage)
                                   .where(OutboxMessage.kind == "rating_due")))


def test_the_rating_due_email_waits_moves_and_is_taken_back(app, patient, doctor):
    """Queued when the session is recorded, sent when the rating opens; a correction moves
    it with the session, a cancellation takes it back (its link would lead nowhere)."""
    session = record(patient, doctor, hours_ago=0)
    mail, = rating_due_mails()
    assert mail.next_attempt_at == session.rating_opens_at
    assert f"/me/sessions/{session.public_id}/rating" in mail.body_text
    moved = session.treated_at - timedelta(hours=3)
    services.correct_session(session, make_practitioner(), services.SessionInput(
        treated_at=moved, regions=session.regions), "Entered the wrong time")
    db.session.commit()
    mail, = rating_due_mails()
    assert mail.next_attempt_at == moved + timedelta(hours=24)
    other = record(make_treatable(name="Other Patient"), doctor, hours_ago=0)
    services.cancel_session(session, doctor, "Booked in error")
    assert [m.body_text.count(other.public_id) for m in rating_due_mails()] == [1]
