"""The worker sends each follow-up once when it is due, and one reminder a week later if it
is not answered (SPEC 12.1, 6.2): through a real task consumer and a real SMTP server, in the
patient's language, without health information, never to a patient who declined or closed
their account, never twice however many workers or ticks run at once."""
from __future__ import annotations

import hashlib
import threading
import time

import pytest
from sqlalchemy import select

from portal import clock, tasks
from portal.extensions import db
from portal.followups import services
from portal.models import AuditEvent, FollowUp, OutboxMessage, User
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

HEALTH_WORDS = ("pain", "douleur", "needl", "aiguill", "sore", "treat", "traitement",
                "discharg", "congé", "gardening", "lifting")


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_running_worker_sends_each_once_and_reminds_once(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6)
    with tasks.BackgroundConsumer(workers=2):
        # Two ticks of the periodic task at once, picked up by two worker threads.
        tasks.follow_ups()
        tasks.follow_ups()
        assert _wait_for(lambda: follow_up_mails(smtp_server)), "nothing was sent"
        time.sleep(1.0)  # time for a second mail, were there one
        assert len(follow_up_mails(smtp_server)) == 1
        sent = follow_ups_of(user)
        assert [f.status for f in sent] == ["sent", "scheduled"]  # 12 weeks is not due yet
        # No reminder before a week has passed, then exactly one.
        clock.advance(days=6, hours=23)
        tasks.follow_ups()
        time.sleep(1.0)
        assert follow_up_mails(smtp_server, reminder=True) == []
        clock.advance(hours=1)
        tasks.follow_ups()
        tasks.follow_ups()
        assert _wait_for(lambda: follow_up_mails(smtp_server, reminder=True))
        time.sleep(1.0)
        tasks.follow_ups()
        time.sleep(1.0)
    assert len(follow_up_mails(smtp_server, reminder=True)) == 1
    assert len(follow_up_mails(smtp_server, reminder=False)) == 1
    six = follow_ups_of(user)[0]
    assert six.reminded_at is not None
    actions = list(db.session.scalars(select(AuditEvent.action)
                                      .where(AuditEvent.action.like("follow_up.%"))))
    assert actions.count("follow_up.sent") == 1 and actions.count("follow_up.reminded") == 1


def test_two_runs_at_the_same_moment_send_one(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    barrier = threading.Barrier(2)
    reports = []

    def work():
        with mail_app.app_context():
            barrier.wait()
            reports.append(services.send_due())
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.sent for r in reports) == [0, 1]
    queued = db.session.scalars(select(OutboxMessage)
                                .where(OutboxMessage.kind == "follow_up")).all()
    assert len(queued) == 1


def test_the_mail_and_the_reminder_carry_the_same_working_link(mail_app, smtp_server, client):
    user = treated()
    patient = discharge(user)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    [first] = follow_up_mails(smtp_server)
    assert first["To"] == user.email
    answer_link, decline_link = links(first)
    assert "/follow-up/" in answer_link and decline_link == answer_link + "/decline"
    token = answer_link.rsplit("/", 1)[1]
    row = follow_ups_of(user)[0]
    # Only the token's SHA-256 is stored; the link is valid for 28 days from sending.
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash or "")
    assert row.token_expires_at == row.sent_at + services.LINK_VALID_FOR
    assert row.due_at == patient.discharged_at + services.REMINDER_AFTER * 6
    clock.advance(days=7)
    assert send_and_deliver().reminded == 1
    [reminder] = follow_up_mails(smtp_server, reminder=True)
    assert links(reminder) == [answer_link, decline_link]
    page = client.get(path_of(answer_link))
    assert page.status_code == 200
    assert "Over the past 24 hours" in page.get_data(as_text=True)


def test_no_health_information_in_the_mails(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    clock.advance(days=7)
    send_and_deliver()
    messages = follow_up_mails(smtp_server)
    assert len(messages) == 2
    for message in messages:
        text = message.get_body(preferencelist=("plain",)).get_content().lower()
        html = message.get_body(preferencelist=("html",)).get_content().lower()
        for word in HEALTH_WORDS:
            assert word not in text and word not in html, word
            assert word not in message["Subject"].lower(), word


def test_the_mail_is_in_the_patients_language(mail_app, smtp_server):
    user = treated(locale="fr_CA")
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    [message] = follow_up_mails(smtp_server)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Bonjour" in body and "Hello" not in body


@pytest.mark.parametrize("why", ["declined", "closed", "inactive"])
def test_no_mail_to_a_patient_who_declined_or_closed_their_account(mail_app, smtp_server, why):
    user = treated()
    discharge(user)
    patient = user.patient
    if why == "declined":
        services.decline(patient, None, "signed_in")
    elif why == "closed":
        patient.account_closed_at = clock.now()
    else:
        db.session.get(User, user.id).active = False
    db.session.commit()
    clock.advance(weeks=13)
    report = send_and_deliver()
    assert report.sent == 0 and follow_up_mails(smtp_server) == []


def test_the_reminder_is_not_sent_once_answered(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    row = follow_ups_of(user)[0]
    services.answer(row, services.Answer(pain_average=3, pgic=2), None, "link")
    clock.advance(days=8)
    assert send_and_deliver().reminded == 0
    assert follow_up_mails(smtp_server, reminder=True) == []


def test_a_changed_secret_key_replaces_the_hash_for_the_reminder(mail_app, smtp_server,
                                                                 client):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    mail_app.config["SECRET_KEY"] = "another secret key for this test only"
    clock.advance(days=7)
    assert send_and_deliver().reminded == 1
    [first] = follow_up_mails(smtp_server, reminder=False)
    [reminder] = follow_up_mails(smtp_server, reminder=True)
    assert links(reminder)[0] != links(first)[0]
    assert client.get(path_of(links(reminder)[0])).status_code == 200
    assert client.get(path_of(links(first)[0])).status_code == 404
    assert follow_ups_of(user)[0].status == "sent"


def _at_once(app, work) -> list:
    """``work()`` in two threads released together, each with its own database session."""
    barrier = threading.Barrier(2)
    results: list = []

    def run():
        with app.app_context():
            barrier.wait()
            try:
                results.append(work())
            except Exception as exc:  # the refusal is a result here
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_runs_at_the_same_moment_send_one_reminder(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    clock.advance(days=7)
    reports = _at_once(mail_app, services.send_due)
    assert sorted(r.reminded for r in reports) == [0, 1]
    queued = db.session.scalars(select(OutboxMessage)
                                .where(OutboxMessage.kind == "follow_up_reminder")).all()
    assert len(queued) == 1


def test_two_answers_at_the_same_moment_record_one(mail_app, smtp_server):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    send_and_deliver()
    row_id = follow_ups_of(user)[0].id
    pains = iter([3, 8])

    def answer():
        row = db.session.get(FollowUp, row_id)
        return services.answer(row, services.Answer(pain_average=next(pains), pgic=1),
                               None, "link")

    results = _at_once(mail_app, answer)
    refused = [r for r in results if isinstance(r, services.FollowUpError)]
    assert len(refused) == 1 and refused[0].code == "answered", results
    answered = db.session.scalars(select(AuditEvent)
                                  .where(AuditEvent.action == "follow_up.answered")).all()
    assert len(answered) == 1


# --- late, and a bad row --------------------------------------------------------------------

def test_a_follow_up_due_too_long_ago_is_cancelled_not_sent(mail_app, smtp_server):
    """The worker was stopped: a follow-up due longer ago than its link would stay valid is
    not sent (it would ask about "6 weeks after discharge" months later); one due less long
    ago still goes."""
    late, recent = treated(name="Lena Late"), treated(name="Rita Recent")
    discharge(late)
    clock.advance(days=services.LINK_VALID_FOR.days - 2)
    discharge(recent)
    clock.advance(weeks=6, days=3)
    report = send_and_deliver()
    assert report.sent == 1
    assert [f.status for f in follow_ups_of(late)] == ["cancelled", "scheduled"]
    assert [f.status for f in follow_ups_of(recent)] == ["sent", "scheduled"]
    assert len(follow_up_mails(smtp_server)) == 1
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "follow_up.cancelled", AuditEvent.patient_id == late.patient.id))
    assert event is not None and '"too_late"' in event.detail


def test_a_late_follow_up_is_overdue_counted_from_its_e_mail(mail_app, smtp_server):
    """Sent 20 days after its due date, it is waiting for its answer, not overdue at once;
    overdue two weeks after the e-mail."""
    from portal.clinic.worklist import services as worklist
    from portal.treatment import after_discharge

    doctor = make_practitioner()
    user = treated()
    discharge(user)
    clock.advance(weeks=6, days=20)
    assert send_and_deliver().sent == 1

    def overdue() -> list:
        return worklist.build(worklist.Scope("all", doctor.id),
                              ("follow-ups-overdue",))["follow-ups-overdue"].items

    row = follow_ups_of(user)[0]
    assert after_discharge.state(row, clock.now()) == "sent" and overdue() == []
    clock.advance(days=after_discharge.OVERDUE_AFTER.days, minutes=1)
    row = follow_ups_of(user)[0]
    assert after_discharge.state(row, clock.now()) == "overdue"
    assert [item.patient.id for item in overdue()] == [user.patient.id]


def test_one_bad_row_does_not_stop_the_others(mail_app, smtp_server, caplog):
    """A follow-up whose e-mail cannot be made (here a locale the portal has no words for)
    is logged and left for the next tick; the other patients' follow-ups go."""
    bad, good = treated(name="Bea Broken"), treated(name="Gus Good")
    discharge(bad)
    discharge(good)
    db.session.get(User, bad.id).locale = "xx_NOPE"
    db.session.commit()
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    assert [f.status for f in follow_ups_of(good)] == ["sent", "scheduled"]
    assert [f.status for f in follow_ups_of(bad)] == ["scheduled", "scheduled"]
    assert "not sent" in caplog.text
