"""Answering a follow-up (SPEC 12.1): by the e-mailed link without signing in, or signed in;
once; "improvement kept" is portal.outcomes' rule on the answer; an unknown, expired or
closed account's link is a 404 page, another patient's follow-up a 404; declining is one
click and stops everything not answered."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock
from portal.clinic.outcomes import services as outcome_figures
from portal.extensions import db
from portal.followups import services
from portal.models import AuditEvent, Patient, TreatmentSession
from portal.treatment import services as treatment
from tests.factories import make_practitioner
from tests.followups.helpers import (
    discharge,
    follow_up_mails,
    follow_ups_of,
    links,
    path_of,
    send_and_deliver,
    treated,
)
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import rate, record

ANSWERS = {"pain_average": "4", "pgic": "2", "psfs_0": "7", "psfs_1": "8"}


@pytest.fixture
def sent(mail_app, smtp_server):
    """A patient (baseline 6, activities "Lifting groceries" and "Gardening") discharged six
    weeks ago, the 6-week follow-up e-mailed: (user, answer path, decline path)."""
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    answer, decline = links(follow_up_mails(smtp_server)[0])
    return user, path_of(answer), path_of(decline)


def test_answer_by_the_link_without_signing_in(sent, client):
    user, answer, _decline = sent
    page = client.get(answer).get_data(as_text=True)
    assert "Lifting groceries" in page and "Gardening" in page
    assert user.name not in page  # the link shows the questions, not who they are for
    response = client.post(answer, data=ANSWERS)
    assert response.status_code == 303 and response.location.endswith(answer)
    row = follow_ups_of(user)[0]
    assert row.status == "answered" and row.answered_at is not None
    assert (row.pain_average, row.pgic, row.psfs_mean) == (4, 2, 7.5)
    assert row.psfs == [{"activity": "Lifting groceries", "score": 7},
                        {"activity": "Gardening", "score": 8}]
    # 6 -> 4: 2 points and 33% below the baseline: the improvement is kept.
    assert row.kept is True
    thanks = client.get(answer).get_data(as_text=True)
    assert "Your answers are saved" in thanks
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "follow_up.answered"))
    assert event.patient_id == user.patient.id and '"through": "link"' in event.detail
    assert "pain" not in event.detail


def test_a_second_submission_is_politely_refused(sent, client):
    user, answer, _decline = sent
    client.get(answer)
    assert client.post(answer, data=ANSWERS).status_code == 303
    again = client.post(answer, data={**ANSWERS, "pain_average": "9"})
    assert again.status_code == 200
    assert "These questions were answered on" in again.get_data(as_text=True)
    assert follow_ups_of(user)[0].pain_average == 4
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "follow_up.answered").offset(1)) is None


def test_a_missing_answer_is_shown_by_its_field_and_nothing_is_saved(sent, client):
    user, answer, _decline = sent
    client.get(answer)
    response = client.post(answer, data={"pain_average": "4", "psfs_0": "7"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose how your pain has changed since you started." in page
    assert "Choose a number from 0 to 10 for this activity." in page
    doc = parse(page)
    # What was chosen stays chosen.
    assert "checked" in doc.find_all("input", name="pain_average", value="4")[0].attrs
    assert "checked" in doc.find_all("input", name="psfs_0", value="7")[0].attrs
    assert follow_ups_of(user)[0].status == "sent"


@pytest.mark.parametrize("value", ["11", "-1", "x"])
def test_a_value_off_the_scale_is_refused(sent, client, value):
    user, answer, _decline = sent
    client.get(answer)
    assert client.post(answer, data={**ANSWERS, "pain_average": value}).status_code == 422
    assert follow_ups_of(user)[0].status == "sent"


def test_unknown_and_expired_links_are_a_404_page(sent, client):
    user, answer, decline = sent
    for path in ("/follow-up/not-a-token", answer[:-3], answer + "x"):
        response = client.get(path)
        assert response.status_code == 404
        assert "This link no longer works" in response.get_data(as_text=True)
    clock.advance(days=services.LINK_VALID_FOR.days, minutes=1)
    response = client.get(answer)
    assert response.status_code == 404
    assert "Lifting groceries" not in response.get_data(as_text=True)
    assert client.post(answer, data=ANSWERS).status_code == 404
    assert follow_ups_of(user)[0].status == "sent"
    # The decline link still works (test_an_expired_link_still_declines).
    assert client.get(decline).status_code == 200


def test_an_expired_link_still_declines(sent, client, smtp_server):
    """The e-mail promises that one click stops them: after the questions' link has expired,
    its decline link still stops the 12-week follow-up."""
    user, answer, decline = sent
    clock.advance(days=services.LINK_VALID_FOR.days, minutes=1)
    page = client.get(decline)
    assert page.status_code == 200
    assert "Stop follow-up questions" in page.get_data(as_text=True)
    assert f'href="{answer}"' not in page.get_data(as_text=True)  # no way back to expired questions
    assert client.post(decline).status_code == 303
    assert "We will not send you follow-up questions any more" in \
        client.get(decline).get_data(as_text=True)
    assert [f.status for f in follow_ups_of(user)] == ["declined", "declined"]
    clock.advance(weeks=6)
    assert send_and_deliver().sent == 0
    assert len(follow_up_mails(smtp_server)) == 1


def test_an_expired_link_of_an_answered_follow_up_does_not_decline(sent, client):
    user, answer, decline = sent
    client.get(answer)
    assert client.post(answer, data=ANSWERS).status_code == 303
    clock.advance(days=services.LINK_VALID_FOR.days, minutes=1)
    assert client.get(decline).status_code == 404
    assert client.post(decline).status_code == 404
    assert [f.status for f in follow_ups_of(user)] == ["answered", "scheduled"]


def test_a_closed_accounts_link_is_a_404_page(sent, client):
    user, answer, _decline = sent
    patient = db.session.get(Patient, user.patient.id)
    patient.account_closed_at = clock.now()
    db.session.commit()
    assert client.get(answer).status_code == 404


def test_answer_signed_in_from_the_home_page(sent, client, auth):
    user, _answer, _decline = sent
    row = follow_ups_of(user)[0]
    auth.login(user)
    home = client.get("/me/").get_data(as_text=True)
    mine = f"/me/follow-ups/{row.public_id}"
    assert mine in home and 'href="/me/follow-ups"' in home
    assert "Lifting groceries" in client.get(mine).get_data(as_text=True)
    assert client.post(mine, data={**ANSWERS, "pain_average": "5"}).status_code == 303
    row = follow_ups_of(user)[0]
    # 6 -> 5: one point, not kept.
    assert row.status == "answered" and row.pain_average == 5 and row.kept is False
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "follow_up.answered"))
    assert event.actor_id == user.id and '"through": "signed_in"' in event.detail
    assert mine not in client.get("/me/").get_data(as_text=True)
    assert "These questions were answered on" in client.get(mine).get_data(as_text=True)


def test_another_patients_follow_up_is_a_404(sent, app):
    user, _answer, _decline = sent
    row = follow_ups_of(user)[0]
    scheduled = follow_ups_of(user)[1]
    other = treated(name="Other Patient")
    client = signed_in(app, other)
    assert client.get(f"/me/follow-ups/{row.public_id}").status_code == 404
    assert client.post(f"/me/follow-ups/{row.public_id}", data=ANSWERS).status_code == 404
    assert follow_ups_of(user)[0].status == "sent"
    # Their own follow-up not sent yet is not answerable either.
    mine = signed_in(app, user)
    assert mine.get(f"/me/follow-ups/{scheduled.public_id}").status_code == 404


@pytest.mark.parametrize(("baseline", "pain", "kept"), [
    (10, 7, True),   # 3 points, exactly 30%
    (10, 8, False),  # 2 points, 20%
    (6, 4, True),    # 2 points, 33%
    (9, 7, False),   # 2 points, 22%
    (3, 2, False),   # 33%, one point
    (3, 1, True),    # 2 points, 67%
    (0, 0, False),
    (None, 3, None),  # no baseline, nothing to compare
])
def test_kept_is_the_improvement_rule(baseline, pain, kept):
    assert services.kept(baseline, pain) is kept


def test_kept_is_stored_from_the_rule_at_the_boundary(sent, client):
    """The baseline is the one that stands when the follow-up is answered: here the
    practitioner's, set after the discharge."""
    user, answer, _decline = sent
    patient = db.session.get(Patient, user.patient.id)
    treatment.set_baseline(patient, make_practitioner(), 10, "Intake answer mistyped.")
    db.session.commit()
    client.get(answer)
    client.post(answer, data={**ANSWERS, "pain_average": "7"})
    row = follow_ups_of(user)[0]
    assert (row.baseline, row.kept) == (10, True)


def test_no_baseline_leaves_kept_empty(mail_app, smtp_server, client):
    user = treated(baseline=None)
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    answer = path_of(links(follow_up_mails(smtp_server)[0])[0])
    client.get(answer)
    assert client.post(answer, data={"pain_average": "4", "pgic": "2"}).status_code == 303
    row = follow_ups_of(user)[0]
    assert row.status == "answered" and row.baseline is None and row.kept is None


def test_a_rating_given_after_a_same_day_discharge_counts(mail_app, smtp_server, client):
    """Discharged the day of the last session, whose rating opens a day later and is given
    after the discharge: the patient was a responder at discharge all the same, and the
    outcomes page counts the follow-up among the responders'."""
    user = treated(pains=(7, 6, 5))  # baseline 6, last rating 5: no responder yet
    session = record(user, hours_ago=3)
    discharge(user)
    clock.advance(hours=22)
    rate(db.session.get(TreatmentSession, session.id), pain=3)  # 6 -> 3: a responder
    db.session.commit()
    clock.advance(weeks=6)
    assert send_and_deliver().sent == 1
    answer = path_of(links(follow_up_mails(smtp_server)[0])[0])
    client.get(answer)
    assert client.post(answer, data=ANSWERS).status_code == 303
    row = follow_ups_of(user)[0]
    assert (row.baseline, row.improved_at_discharge, row.kept) == (6, True, True)
    six = outcome_figures.compute(outcome_figures.OutcomeFilters()).kept_at[0]
    assert (six.weeks, six.improved, six.kept) == (6, 1, 1)


# --- declining ------------------------------------------------------------------------------

def test_decline_with_one_click_from_the_mail(sent, client, smtp_server):
    user, answer, decline = sent
    page = client.get(decline)
    assert page.status_code == 200
    assert "Stop follow-up questions" in page.get_data(as_text=True)
    assert follow_ups_of(user)[0].status == "sent"  # the GET changed nothing
    assert client.post(decline, csrf=False).status_code == 400  # CSRF stays on
    response = client.post(decline)
    assert response.status_code == 303
    assert "We will not send you follow-up questions any more" in \
        client.get(decline).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).follow_ups_declined_at is not None
    assert [f.status for f in follow_ups_of(user)] == ["declined", "declined"]
    assert "You asked us not to send you follow-up questions" in \
        client.get(answer).get_data(as_text=True)
    assert client.post(answer, data=ANSWERS).status_code == 200
    assert follow_ups_of(user)[0].pain_average is None
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "follow_up.declined"))
    assert '"count": 2' in event.detail
    # No reminder, no 12-week mail.
    clock.advance(weeks=7)
    report = send_and_deliver()
    assert (report.sent, report.reminded) == (0, 0)
    assert len(follow_up_mails(smtp_server)) == 1


def test_decline_and_undo_signed_in(sent, client, auth):
    user, _answer, _decline = sent
    auth.login(user)
    page = client.get("/me/follow-ups").get_data(as_text=True)
    assert "Waiting for your answers" in page
    assert 'href="/me/follow-ups"' in client.get("/auth/account").get_data(as_text=True)
    assert client.post("/me/follow-ups/decline").status_code == 303
    assert [f.status for f in follow_ups_of(user)] == ["declined", "declined"]
    assert "Send me follow-up questions again" in \
        client.get("/me/follow-ups").get_data(as_text=True)
    assert client.post("/me/follow-ups/accept").status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).follow_ups_declined_at is None
    # The declined ones stay declined; the next discharge schedules again.
    assert [f.status for f in follow_ups_of(user)] == ["declined", "declined"]
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"follow_up.declined", "follow_up.accepted_again"} <= actions

