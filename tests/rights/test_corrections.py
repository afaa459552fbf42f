"""Correction requests end to end (SPEC 11.1): the patient asks with their password, the
worklist shows it, a practitioner accepts it as an amendment of the intake or declines it
with a reason, once, and the patient reads the answer."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from portal import clock
from portal.clinic_settings import current_settings
from portal.extensions import db as _db
from portal.intake import amendments as intake_amendments
from portal.intake import services as intake_services
from portal.intake import staff as staff_intake
from portal.intake.types import StepInput
from portal.models import (
    AuditEvent,
    IntakeAmendment,
    IntakeResponse,
    OutboxMessage,
    RecordRequest,
)
from portal.rights import correcting
from portal.rights.dates import due_at_for
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.intake.helpers import make_intake
from tests.markup import parse


@pytest.fixture
def patient(db):
    user = make_patient(name="Nora Quinn")
    make_intake(user)
    return user


def _ask(client, subject="phone", detail="My phone is 604-555-0999.", password=PASSWORD):
    return client.post("/me/record/correction",
                       data={"subject": subject, "detail": detail, "password": password})


def _only_request() -> RecordRequest:
    _db.session.expire_all()
    return _db.session.scalars(select(RecordRequest)).one()


def test_the_form_offers_the_answered_questions_in_the_patients_language(auth, client, patient):
    auth.login(patient)
    page = client.get("/me/record/correction").get_data(as_text=True)
    assert 'value="general"' in page
    assert 'value="phone"' in page and 'value="main_complaint"' in page
    assert 'value="consent_signature"' not in page  # signed again on its own page


def test_a_patient_without_a_sent_intake_can_ask_in_general(auth, client, db):
    user = make_patient()
    auth.login(user)
    page = client.get("/me/record/correction").get_data(as_text=True)
    assert 'value="phone"' not in page
    response = _ask(client, subject="general", detail="My name is spelled Nora.")
    assert response.status_code in (200, 302, 303)
    req = _only_request()
    assert req.subject is None and req.kind == "correction" and req.channel == "portal"


def test_the_password_is_needed_and_nothing_typed_is_lost(auth, client, patient):
    auth.login(patient)
    response = _ask(client, password="not my password")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "My phone is 604-555-0999." in page
    assert 'aria-invalid="true"' in page
    assert _db.session.scalars(select(RecordRequest)).first() is None
    assert _db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "password.check_failed")) is not None


@pytest.mark.parametrize(("data", "field"), [
    ({"subject": "phone", "detail": ""}, "detail"),
    ({"subject": "phone", "detail": "x" * (correcting.DETAIL_MAX + 1)}, "detail"),
    ({"subject": "not_a_question", "detail": "Fix it"}, "subject"),
])
def test_bad_input_is_shown_by_its_field(auth, client, patient, data, field):
    auth.login(patient)
    response = client.post("/me/record/correction", data={**data, "password": PASSWORD})
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error"', response.get_data(as_text=True))
    assert _db.session.scalars(select(RecordRequest)).first() is None


def _practitioner(auth, client):
    auth.logout()
    staff = make_practitioner()
    auth.login(staff)
    return staff


def test_accepted_as_an_amendment_the_patient_sees_the_new_answer(auth, client, patient):
    auth.login(patient)
    asked_at = clock.now()
    response = _ask(client)
    assert response.status_code in (302, 303)
    req = _only_request()
    assert req.subject == "phone" and req.detail == "My phone is 604-555-0999."
    assert req.due_at == due_at_for(asked_at)
    page = client.get("/me/record/correction").get_data(as_text=True)
    assert "Waiting for an answer" in page

    staff = _practitioner(auth, client)
    worklist = client.get("/clinic/").get_data(as_text=True)
    assert "Correction requests" in worklist
    answer_url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    assert answer_url in worklist
    intake_tab = client.get(f"/clinic/patients/{patient.patient.public_id}/intake")
    assert answer_url in intake_tab.get_data(as_text=True)
    page = client.get(answer_url).get_data(as_text=True)
    assert "604-555-0123" in page  # the current answer, to change
    response = client.post(answer_url + "/accept",
                           data={"phone": "604-555-0999", "note": "Updated your number."})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    req = _only_request()
    assert req.outcome == "amended" and req.answered_by_id == staff.id
    amendment = _db.session.get(IntakeAmendment, req.amendment_id)
    assert amendment.changes == {"phone": "604-555-0999"}
    assert amendment.author_id == staff.id
    answers = intake_services.effective_answers(amendment.response)
    assert answers["phone"] == "604-555-0999"
    assert "Correction requests" not in client.get("/clinic/").get_data(as_text=True) \
        or answer_url not in client.get("/clinic/").get_data(as_text=True)
    mail = _db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "request_answered")).one()
    assert mail.to_addr == patient.email
    assert "604-555" not in mail.body_text and "phone" not in mail.body_text.lower()

    auth.logout()
    auth.login(patient)
    page = client.get("/me/record/correction").get_data(as_text=True)
    assert "Corrected" in page and "Updated your number." in page
    assert "Your answer now reads: <strong>604-555-0999</strong>" in page


def test_declined_with_a_reason_the_patient_reads(auth, client, patient):
    auth.login(patient)
    _ask(client)
    req = _only_request()
    _practitioner(auth, client)
    url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    response = client.post(url + "/decline", data={"reason": ""})
    assert response.status_code == 422
    assert 'id="reason-error"' in response.get_data(as_text=True)
    response = client.post(url + "/decline",
                           data={"reason": "The record shows what you told us that day."})
    assert response.status_code in (302, 303)
    assert _only_request().outcome == "declined"
    # A second answer is refused politely, and changes nothing.
    response = client.post(url + "/accept", data={"phone": "604-555-0999"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "already answered" in response.get_data(as_text=True)
    req = _only_request()
    assert req.outcome == "declined" and req.amendment_id is None
    assert _db.session.scalars(select(IntakeAmendment)).first() is None
    auth.logout()
    auth.login(patient)
    page = client.get("/me/record/correction").get_data(as_text=True)
    assert "Not corrected" in page and "The record shows what you told us that day." in page


def test_the_conditional_update_refuses_a_second_answer(db, patient):
    staff = make_practitioner()
    req = correcting.request_correction(patient.patient, patient, None, "Wrong name")
    assert req.answered_at is None
    _db.session.expunge(req)  # as a second tab read it, before the first answer
    stale = req
    correcting.decline(_db.session.get(RecordRequest, stale.id), staff, "It is right.")
    with pytest.raises(correcting.AlreadyAnswered):
        correcting.decline(stale, staff, "Another reason")
    assert _only_request().response == "It is right."


def test_another_patients_request_is_not_found(auth, client, patient):
    other = make_patient()
    req = correcting.request_correction(other.patient, other, None, "Mine")
    auth.login(patient)
    url = f"/clinic/patients/{other.patient.public_id}/requests/{req.public_id}"
    assert client.get(url).status_code == 404
    assert client.post(url + "/decline", data={"reason": "Not yours"}).status_code == 404
    assert "Mine" not in client.get("/me/record/correction").get_data(as_text=True)
    # Staff: the request id under another patient's chart is not found either.
    _practitioner(auth, client)
    wrong = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    assert client.get(wrong).status_code == 404
    assert client.post(wrong + "/decline", data={"reason": "Wrong chart"}).status_code == 404
    assert _only_request().answered_at is None


def test_a_general_request_is_answered_with_a_required_note(auth, client, patient):
    req = correcting.request_correction(patient.patient, patient, None, "Wrong doctor")
    _practitioner(auth, client)
    url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    assert client.post(url + "/accept", data={"note": ""}).status_code == 422
    response = client.post(url + "/accept", data={"note": "Your family doctor is corrected."})
    assert response.status_code in (302, 303)
    req = _only_request()
    assert req.outcome == "amended" and req.response == "Your family doctor is corrected."


def test_due_dates_count_from_the_clinics_date_in_vancouver(db):
    current_settings().timezone = "America/Vancouver"
    _db.session.commit()
    # 23:30 on 20 February 2026 in Vancouver (standard time, UTC-8) is 07:30 UTC on 21
    # February: counted from 20 February, due the end of 22 March in Vancouver, which by
    # then keeps daylight time (UTC-7) all year (British Columbia, from 8 March 2026).
    received = datetime(2026, 2, 21, 7, 30, tzinfo=UTC)
    assert due_at_for(received) == datetime(2026, 3, 23, 6, 59, 59, tzinfo=UTC)
    # Extended once by 30 more days (PHIPA s. 55(3)): 60 days from the same date.
    assert due_at_for(received, 60) == datetime(2026, 4, 22, 6, 59, 59, tzinfo=UTC)
    # Half an hour later it is 21 February in Vancouver: one more day.
    assert due_at_for(received + timedelta(minutes=30)) == datetime(2026, 3, 24, 6, 59, 59,
                                                                    tzinfo=UTC)


def test_a_practitioner_reading_a_request_is_audited(auth, client, patient):
    """The answer page shows the patient's words and their current answer: a view of the
    record, audited as the intake's views are, naming the request."""
    req = correcting.request_correction(patient.patient, patient, "phone", "Wrong number")
    staff = _practitioner(auth, client)
    url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    assert client.get(url).status_code == 200
    [event] = _db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "intake.viewed", AuditEvent.actor_id == staff.id))
    assert event.patient_id == patient.patient.id and req.public_id in event.detail


def _change(question: str, value) -> tuple[int, StepInput]:
    definition = intake_services.current_definition()
    return definition.questions[question].step, StepInput(values={question: value})


def test_a_practitioners_correction_keeps_the_review_unless_it_raises_a_red_flag(app, db):
    """Accepting a correction does not send a reviewed intake back to review (which would
    close the treatment gate of a patient whose red flags were reviewed), unless the change
    raises a red flag the intake did not have."""
    user = make_patient(name="Rhea Flagged")
    response = make_intake(user, rf_weight_loss="yes")
    staff = make_practitioner()
    assert staff_intake.mark_reviewed(response, staff, "Weight loss discussed, GP aware.")
    reviewed_at = _db.session.get(IntakeResponse, response.id).reviewed_at
    assert reviewed_at is not None

    first = correcting.request_correction(user.patient, user, "phone", "New number")
    with app.test_request_context():  # the e-mail's link, the default note's language
        correcting.accept(first, staff, None, _change("phone", "604-555-0999"))
    kept = _db.session.get(IntakeResponse, response.id)
    assert kept.reviewed_at == reviewed_at and kept.reviewed_by_id == staff.id
    assert kept.has_red_flags

    second = correcting.request_correction(user.patient, user, "rf_saddle_numbness",
                                           "I do have numbness there.")
    with app.test_request_context():
        correcting.accept(second, staff, None, _change("rf_saddle_numbness", "yes"))
    _db.session.expire_all()
    again = _db.session.get(IntakeResponse, response.id)
    assert again.reviewed_at is None and again.red_flag_count == 2


def test_a_patients_own_amendment_still_sends_the_intake_to_review(db, patient):
    response = intake_services.submitted_response(patient.patient)
    assert staff_intake.mark_reviewed(response, make_practitioner())
    step, data = _change("phone", "604-555-0777")
    assert intake_amendments.amend(patient.patient, patient, response, step, data,
                                   "My number changed").amendment is not None
    _db.session.expire_all()
    assert _db.session.get(IntakeResponse, response.id).reviewed_at is None


def test_accepting_a_correction_is_one_commit(app, db, patient):
    """The answer, the amendment, its audit and the e-mail to the patient are one
    transaction: never an amended intake with its request still open."""
    staff = make_practitioner()
    req = correcting.request_correction(patient.patient, patient, "phone", "New number")
    commits: list[bool] = []

    def count(_session):
        commits.append(True)

    event.listen(_db.session, "after_commit", count)
    try:
        with app.test_request_context():
            correcting.accept(req, staff, "Updated.", _change("phone", "604-555-0999"))
    finally:
        event.remove(_db.session, "after_commit", count)
    assert len(commits) == 1
    req = _only_request()
    assert req.amendment_id is not None and req.outcome == "amended"


def test_a_closed_accounts_request_is_answered_by_post(auth, client, patient):
    """No sign-in and no e-mail once the account is closed (SPEC 11.1): the answer page
    says to send the answer by post."""
    req = correcting.request_correction(patient.patient, patient, "phone", "New number")
    auth.login(patient)
    assert client.post("/me/record/close",
                       data={"password": PASSWORD, "understand": "y"}).status_code == 303
    _practitioner(auth, client)
    url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    page = parse(client.get(url).get_data(as_text=True))
    notice = " ".join(page.by_id("request-account-closed").text.split())
    assert "closed their account" in notice and "Send them the answer by post." in notice
    response = client.post(url + "/decline", data={"reason": "It is right."},
                           follow_redirects=True)
    assert "send them your reason by post" in response.get_data(as_text=True)
    assert _db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "request_answered")).first() is None


def test_an_open_accounts_request_page_says_nothing_of_post(auth, client, patient):
    req = correcting.request_correction(patient.patient, patient, "phone", "New number")
    _practitioner(auth, client)
    url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    page = parse(client.get(url).get_data(as_text=True))
    assert page.by_id("request-account-closed") is None


def test_the_intake_tab_lists_the_open_requests_on_a_tab_switch_too(auth, client, patient):
    """The waiting requests come with the intake tab's panel (from its view, not queried by
    the template), on the whole chart and on an htmx tab switch alike."""
    req = correcting.request_correction(patient.patient, patient, "phone", "New number")
    _practitioner(auth, client)
    tab = f"/clinic/patients/{patient.patient.public_id}/intake"
    answer_url = f"/clinic/patients/{patient.patient.public_id}/requests/{req.public_id}"
    assert answer_url in client.get(tab).get_data(as_text=True)
    fragment = client.get(tab, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and answer_url in html
