"""`flask send-reminders` (SPEC 4.2, 6.2): the rating opens a day after the session, with
its e-mail then; one reminder per unrated session a day after it opens, none once rated,
none after the window closes (7 days after the session), never twice however often cron
runs it; the e-mails reach a real SMTP server and carry no health information."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage, TreatmentSession
from portal.treatment import services
from tests.treatment.helpers import rate, record


def run(runner):
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def subjects(smtp_server) -> list[str]:
    return [m["Subject"] for m in smtp_server.parsed()]


def reminders(smtp_server) -> list:
    return [m for m in smtp_server.parsed() if m["Subject"].startswith("Reminder")]


@pytest.fixture
def session(mail_app, patient, doctor):
    return record(patient, doctor, hours_ago=0)


def due_mails(smtp_server) -> list:
    return [m for m in smtp_server.parsed() if m["Subject"].startswith("Something to do")]


def test_a_reminder_once_24_hours_after_the_rating_opens(mail_app, runner, smtp_server,
                                                        session, patient):
    assert "reminded 0" in run(runner)
    # The "rating due" e-mail waits for the rating to open, a day after the session.
    assert due_mails(smtp_server) == []
    clock.advance(hours=23, minutes=59)
    assert "reminded 0" in run(runner)
    assert due_mails(smtp_server) == []
    clock.advance(minutes=1)
    assert "reminded 0" in run(runner)
    # It went out with this run (the outbox was drained).
    due = due_mails(smtp_server)
    assert len(due) == 1 and due[0]["To"] == patient.email
    # The reminder: a day after the rating opened, not before.
    clock.advance(hours=23, minutes=59)
    assert "reminded 0" in run(runner)
    clock.advance(minutes=2)
    assert "reminded 1" in run(runner)
    for _ in range(3):
        clock.advance(hours=5)
        assert "reminded 0" in run(runner)
    sent = reminders(smtp_server)
    assert len(sent) == 1 and sent[0]["To"] == patient.email
    body = sent[0].get_body(preferencelist=("plain",)).get_content()
    assert f"/me/sessions/{session.public_id}/rating" in body
    for word in ("pain", "needl", "sore", "treat", "low back"):
        assert word not in body.lower() and word not in sent[0]["Subject"].lower(), word
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).reminder_sent_at is not None


def test_no_reminder_once_rated(mail_app, runner, smtp_server, session):
    clock.advance(hours=34)
    rate(session, 4)
    clock.advance(hours=20)
    assert "reminded 0" in run(runner)
    clock.advance(days=8)
    assert "reminded 0, closed 0" in run(runner)
    assert reminders(smtp_server) == []


def test_no_reminder_after_the_window_closes(mail_app, runner, smtp_server, session):
    clock.advance(days=7, minutes=1)  # cron was down the whole week
    assert "reminded 0, closed 1" in run(runner)
    assert "reminded 0, closed 0" in run(runner)
    assert reminders(smtp_server) == []
    db.session.expire_all()
    closed = db.session.get(TreatmentSession, session.id)
    assert closed.rating_closed_at is not None
    assert services.rating_status(closed) == "missed"


def test_the_rating_closes_7_days_after_the_session_not_after_it_opens(mail_app, runner,
                                                                      patient, doctor):
    """Recorded three days late, the rating opens at once and still closes 7 days after
    the session (SPEC 4.2)."""
    late = record(patient, doctor, hours_ago=72)
    assert late.rating_opens_at == late.created_at
    assert services.closes_at(late) == late.treated_at + timedelta(days=7)
    clock.advance(days=3, hours=23, minutes=58)
    assert services.rating_status(late) == "overdue"
    assert "closed 0" in run(runner)
    clock.advance(minutes=3)
    assert services.rating_status(late) == "missed"
    assert "closed 1" in run(runner)
    with pytest.raises(services.TreatmentError) as refused:
        rate(late, 4)
    assert refused.value.code == "closed"


def test_a_cancelled_session_gets_no_reminder(mail_app, runner, smtp_server, session, doctor):
    services.cancel_session(session, doctor, "Booked in error")
    clock.advance(hours=49)
    assert "reminded 0" in run(runner)
    assert reminders(smtp_server) == []


def test_reminded_sessions_can_still_be_rated_then_close_quietly(mail_app, runner, smtp_server,
                                                                session):
    clock.advance(hours=49)
    assert "reminded 1" in run(runner)
    rate(session, 3)
    clock.advance(days=7)
    assert "reminded 0, closed 0" in run(runner)
    assert len(reminders(smtp_server)) == 1


def test_two_runs_at_the_same_time_send_one_reminder(mail_app, smtp_server, session):
    clock.advance(hours=49)
    barrier = threading.Barrier(2)
    reports = []

    def work():
        with mail_app.app_context():
            barrier.wait()
            reports.append(services.send_reminders())
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.reminded for r in reports) == [0, 1]
    queued = db.session.scalars(select(OutboxMessage)
                                .where(OutboxMessage.kind == "rating_reminder")).all()
    assert len(queued) == 1


@pytest.mark.parametrize("app_config", [{"RATING_REMINDER_AFTER": timedelta(hours=2)}])
def test_the_reminder_delay_is_configurable(mail_app, runner, smtp_server, session):
    clock.advance(hours=26, minutes=1)
    assert "reminded 1" in run(runner)


@pytest.mark.parametrize("app_config", [{"RATING_OPENS_AFTER": timedelta(hours=6)}])
def test_the_opening_delay_is_configurable(mail_app, runner, smtp_server, session):
    assert session.rating_opens_at == session.treated_at + timedelta(hours=6)
    clock.advance(hours=6)
    run(runner)
    assert len(due_mails(smtp_server)) == 1
    clock.advance(hours=24, minutes=1)
    assert "reminded 1" in run(runner)
