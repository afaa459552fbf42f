"""Closing one's account (SPEC 11.1): refused without the password and the "I understand"
tick (a shared phone is common) or without the CSRF token, nothing changed; once closed,
sign-in fails and every session has ended, the mail waiting is taken back and no mail goes
to the address any more (queued or delivered, through the real outbox and a real SMTP
server), the follow-ups waiting are cancelled, the patient is told until when the record is
kept, and staff see the account closed on the chart and in the list."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import clock, mail
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.formats import format_date
from portal.models import AuditEvent, FollowUp, OutboxMessage, Patient, User
from portal.rights.retention import retention_ends_on
from tests.factories import (
    PASSWORD,
    make_document,
    make_follow_up,
    make_patient,
    make_practitioner,
)
from tests.markup import parse
from tests.treatment.conftest import app_config, doctor, doctor_client, signed_in  # noqa: F401
from tests.treatment.helpers import history, make_treatable

CLOSE = "/me/record/close"
RIGHT = {"password": PASSWORD, "understand": "y"}


@pytest.fixture
def closing(app, doctor):
    """Treated by Dr. Lee a while ago, discharged, with follow-ups waiting and answered."""
    user = make_treatable(name="Clara Closing", email="clara@example.org")
    history(user, [7, 5, 4], practitioner=doctor)
    patient = db.session.get(Patient, user.patient.id)
    patient.practitioner_id = doctor.id
    db.session.commit()
    for weeks, status in ((6, "answered"), (12, "scheduled"), (13, "sent")):
        make_follow_up(patient, weeks=weeks, status=status)
    return db.session.get(User, user.id)


def _patient(user) -> Patient:
    db.session.expire_all()
    return db.session.get(Patient, user.patient.id)


def _main_text(html: str) -> str:
    return " ".join(parse(html).find_all("main")[0].text.split())


def _field_error(html: str, field_id: str) -> str:
    error = parse(html).by_id(f"{field_id}-error")
    assert error is not None, f"no error by #{field_id}"
    return " ".join(error.text.split())


def _still_open(user) -> None:
    patient = _patient(user)
    assert patient.account_closed_at is None and patient.user.active
    assert {f.status for f in db.session.scalars(
        select(FollowUp).where(FollowUp.patient_id == patient.id))} == \
        {"answered", "scheduled", "sent"}


def test_closing_is_refused_without_password_tick_or_token(app, closing):
    client = signed_in(app, closing)
    page = client.get(CLOSE)
    assert page.status_code == 200
    text = _main_text(page.get_data(as_text=True))
    kept = retention_ends_on(_patient(closing))
    assert kept > date.today() + timedelta(days=365 * 9)
    assert f"until {kept.strftime('%B')} {kept.day}, {kept.year}" in text
    for words in ("cannot sign in again", "no more e-mails", "follow-up questionnaires"):
        assert words in text
    # Nothing: both fields say so.
    answer = client.post(CLOSE, data={})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Enter your password." in _field_error(html, "close-password")
    assert "Tick this box" in _field_error(html, "understand")
    # The password without the tick, the tick with a wrong password.
    answer = client.post(CLOSE, data={"password": PASSWORD})
    assert answer.status_code == 422 and _field_error(answer.get_data(as_text=True),
                                                      "understand")
    answer = client.post(CLOSE, data={"password": "not my password", "understand": "y"})
    assert answer.status_code == 422
    assert "not correct" in _field_error(answer.get_data(as_text=True), "close-password")
    # Everything right but no CSRF token (another site's form): refused.
    assert client.post(CLOSE, data=RIGHT, csrf=False).status_code == 400
    _still_open(closing)
    assert client.get("/me/").status_code == 200  # still signed in
    # Staff have no such page.
    doctor_client = signed_in(app, make_practitioner())
    assert doctor_client.post(CLOSE, data=RIGHT).status_code == 404
    _still_open(closing)


def test_closing_ends_sign_in_sessions_mail_and_follow_ups(app, closing):
    client = signed_in(app, closing)
    elsewhere = signed_in(app, closing)  # the same person on another device
    # A rating e-mail waiting for tomorrow and a document notice waiting to go.
    pending = [OutboxMessage(kind="rating_due", to_addr=closing.email, subject="s",
                             body_text="b", next_attempt_at=clock.now() + timedelta(days=1)),
               OutboxMessage(kind="document_news", to_addr=closing.email, subject="s",
                             body_text="b")]
    db.session.add_all(pending)
    db.session.commit()
    kept = retention_ends_on(_patient(closing))

    answer = client.post(CLOSE, data=RIGHT)
    assert answer.status_code == 303 and answer.location.endswith("/me/record/closed")
    last = client.get("/me/record/closed")
    assert last.status_code == 200
    text = _main_text(last.get_data(as_text=True))
    assert "Your account is closed" in text
    assert f"{kept.strftime('%B')} {kept.day}, {kept.year}" in text
    # Signed out here and on the other device.
    assert client.get("/me/").status_code in (302, 303)
    assert elsewhere.get("/me/").status_code in (302, 303)
    # Sign-in with a wrong password answers as for any address (whether an address has an
    # account stays unseen); with the right one, that the account is closed.
    refused = client.post("/auth/login", data={"email": closing.email, "password": "wrong!"})
    assert refused.status_code == 422
    assert "do not match an account" in refused.get_data(as_text=True)
    refused = client.post("/auth/login", data={"email": closing.email, "password": PASSWORD})
    assert refused.status_code == 422 and "/me/" not in (refused.location or "")
    assert "was closed on" in refused.get_data(as_text=True)
    assert client.get("/me/").status_code in (302, 303)

    patient = _patient(closing)
    assert patient.account_closed_at is not None and not patient.user.active
    follow_ups = {f.weeks: f for f in db.session.scalars(
        select(FollowUp).where(FollowUp.patient_id == patient.id))}
    assert follow_ups[6].status == "answered" and follow_ups[6].cancelled_at is None
    for weeks in (12, 13):
        assert follow_ups[weeks].status == "cancelled" and follow_ups[weeks].cancelled_at
    assert db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_addr == closing.email)).all() == []
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.closed"))
    assert event.patient_id == patient.id and kept.isoformat() in event.detail
    # Once: the last page is only for this browser; elsewhere it sends to sign-in.
    assert elsewhere.get("/me/record/closed").status_code in (302, 303)


def test_no_mail_is_queued_or_delivered_to_a_closed_account(mail_app, runner, smtp_server,
                                                            closing, doctor):
    client = signed_in(mail_app, closing)
    assert client.post(CLOSE, data=RIGHT).status_code == 303
    # A practitioner reviews a document after the closure: the notice is not queued.
    make_document(db.session.get(User, closing.id), status="rejected", reviewer=doctor)
    assert db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_addr == closing.email)).all() == []
    assert mail.queue("rating_reminder", "Clara@Example.org", "en", name="x",
                      link="http://localhost/me/") is None
    # One queued before the closure by a transaction that raced it: the worker drops it;
    # mail to anyone else still goes.
    db.session.add_all([OutboxMessage(kind="document_news", to_addr=closing.email,
                                      subject="s", body_text="b"),
                        OutboxMessage(kind="document_news", to_addr="other@example.org",
                                      subject="s", body_text="b")])
    db.session.commit()
    result = runner.invoke(args=["send-mail"])
    assert "failed 0" in result.output, result.output
    delivered = [m["To"] for m in smtp_server.parsed()]
    assert "other@example.org" in delivered and closing.email not in delivered
    assert db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_addr == closing.email)).all() == []


def test_staff_see_the_account_closed(app, closing, doctor_client):
    client = signed_in(app, closing)
    client.post(CLOSE, data=RIGHT)
    patient = _patient(closing)
    kept = retention_ends_on(patient)
    html = doctor_client.get(f"/clinic/patients/{patient.public_id}/").get_data(as_text=True)
    chart = parse(html)
    line = " ".join(chart.by_id("chart-account-closed").text.split())
    assert line.startswith("Account closed on") and \
        f"record kept until {kept.strftime('%B')} {kept.day}, {kept.year}" in line
    assert "Resend the invitation" not in html
    # Still in the list (the record is kept), marked closed.
    listed = parse(doctor_client.get("/clinic/patients/?q=Clara").get_data(as_text=True))
    row = listed.by_id(f"patient-{patient.public_id}")
    assert row is not None and "Account closed" in row.text


def test_the_close_page_in_french(app, closing):
    closing.locale = "fr_CA"
    db.session.commit()
    client = signed_in(app, closing)
    text = _main_text(client.get(CLOSE).get_data(as_text=True))
    assert "Fermer mon compte" in text
    kept = retention_ends_on(_patient(closing))
    assert f"{kept.day} " in text and str(kept.year) in text


def _plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_right_password_tells_a_closed_account_it_is_closed(app, closing, auth):
    """After the password (and only then): closed on which day, and to contact the clinic;
    a wrong password answers as for an address without an account."""
    client = signed_in(app, closing)
    assert client.post(CLOSE, data=RIGHT).status_code == 303
    closed_at = _patient(closing).account_closed_at
    stranger = auth.client
    wrong = stranger.post("/auth/login", data={"email": closing.email, "password": "wrong!"})
    unknown = stranger.post("/auth/login", data={"email": "nobody@example.org",
                                                 "password": "wrong!"})
    assert wrong.status_code == unknown.status_code == 422
    assert "was closed" not in wrong.get_data(as_text=True)
    right = stranger.post("/auth/login", data={"email": closing.email, "password": PASSWORD})
    assert right.status_code == 422
    with app.test_request_context():
        day = format_date(closed_at, "long")
    assert (f"This account was closed on {day}: you cannot sign in with it any more. To use "
            "the portal again, contact your clinic.") in right.get_data(as_text=True)
    assert stranger.get("/me/").status_code in (302, 303)
    assert db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "login.refused_closed")).all()


def test_registering_or_resetting_a_closed_address_is_told_it_is_closed(
        mail_app, runner, smtp_server, closing, auth):
    """One e-mail each, saying the account is closed and to contact the clinic; no link that
    signs in or resets, no health information. Other mail stays refused."""
    signed = signed_in(mail_app, closing)
    assert signed.post(CLOSE, data=RIGHT).status_code == 303
    settings = current_settings()
    settings.self_registration = True
    settings.phone = "604-555-0199"
    db.session.commit()
    visitor = auth.client
    registered = visitor.post("/auth/register", data={
        "name": "Clara Again", "email": "Clara@Example.org", "password": "a new long password",
        "confirm": "a new long password"})
    assert registered.status_code == 200
    assert "Check your e-mail" in registered.get_data(as_text=True)
    clock.advance(days=1, minutes=1)  # one notice a day at most (portal.auth.services)
    reset = visitor.post("/auth/reset", data={"email": closing.email})
    assert reset.status_code == 200 and "Check your e-mail" in reset.get_data(as_text=True)
    # Still one account, still closed; nothing else to the address.
    assert db.session.scalars(select(User).where(User.email == closing.email)).one()
    assert mail.queue("rating_reminder", closing.email, "en", name="x",
                      link="http://localhost/me/") is None
    db.session.commit()
    result = runner.invoke(args=["send-mail"])
    assert "failed 0" in result.output, result.output
    notices = [m for m in smtp_server.parsed() if m["To"] == closing.email]
    assert len(notices) == 2
    with mail_app.test_request_context():
        day = format_date(_patient(closing).account_closed_at, "long")
    for notice in notices:
        assert "is closed" in notice["Subject"]
        body = _plain(notice)
        assert f"was closed on {day}" in body and "contact your clinic" in body
        assert "604-555-0199" in body
        assert "http" not in body  # no link: nothing to sign in or reset with
        for health in ("pain", "treatment", "follow-up", "consent", "session"):
            assert health not in body
    assert {e.action for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.subject == closing.email))} >= {"registration.closed_account",
                                                   "password.reset_requested_closed"}
    assert _patient(closing).account_closed_at is not None
    # Someone else's address still gets the ordinary answers.
    make_patient(email="open@example.org")
    visitor.post("/auth/reset", data={"email": "open@example.org"})
    runner.invoke(args=["send-mail"])
    assert any(m["To"] == "open@example.org" and "/auth/reset/" in _plain(m)
               for m in smtp_server.parsed())


def test_the_closed_notice_in_french(mail_app, runner, smtp_server, closing, auth):
    closing.locale = "fr_CA"
    db.session.commit()
    assert signed_in(mail_app, closing).post(CLOSE, data=RIGHT).status_code == 303
    auth.client.post("/auth/reset", data={"email": closing.email})
    runner.invoke(args=["send-mail"])
    [notice] = [m for m in smtp_server.parsed() if m["To"] == closing.email]
    body = _plain(notice)
    assert "fermé" in notice["Subject"] and "fermé le" in body
