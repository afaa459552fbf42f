"""The outbox (SPEC 6): mail is written in the transaction of the event that causes it, sent
to a real SMTP server afterwards, retried with backoff while the server is down, rendered in
the recipient's language, and never carries health information."""
from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import create_engine, func, select

from portal import clock, mail, tasks
from portal.clinic_settings import current_settings
from portal.models import OutboxMessage, User
from tests.factories import make_patient, make_practitioner


def _invite_context(**extra):
    context = {"name": "Ruth Example", "link": "http://localhost/auth/invite/tok123",
               "role": "patient", "days": 7}
    context.update(extra)
    return context


def _outbox(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _invite(client, auth, email="new.patient@example.org", name="Nora Newcomer"):
    doctor = make_practitioner()
    assert auth.login(doctor).status_code == 303
    response = client.post("/clinic/invitations", data={"name": name, "email": email})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


# --- the outbox is part of the caller's transaction ----------------------------------

def test_queue_is_part_of_the_callers_transaction(app, db):
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        mail.queue("invitation", "a@example.org", "en", **_invite_context())
        db.session.flush()
        # Written, but not visible outside the transaction until it commits.
        with other.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.rollback()
        assert _outbox(db) == []

        mail.queue("invitation", "b@example.org", "en", **_invite_context())
        db.session.commit()
        with other.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        [message] = _outbox(db)
        assert message.to_addr == "b@example.org"
        assert message.status == "pending" and message.attempts == 0
    finally:
        other.dispose()


def test_a_failed_invitation_leaves_no_mail(client, auth, db):
    """The invitation that fails (address already has an account) queues nothing."""
    make_patient(email="taken@example.org")
    doctor = make_practitioner()
    auth.login(doctor)
    response = client.post("/clinic/invitations",
                           data={"name": "Someone", "email": "taken@example.org"})
    assert response.status_code == 422
    assert _outbox(db) == []


# --- delivery -------------------------------------------------------------------------

def test_send_mail_delivers_to_the_smtp_server(mail_app, client, auth, runner, smtp_server,
                                               db):
    _invite(client, auth, email="nora@example.org", name="Nora Newcomer")
    assert smtp_server.messages == []  # nothing is sent by the request itself here

    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output

    [msg] = smtp_server.parsed()
    assert msg["To"] == "nora@example.org"
    assert msg["Subject"] == "Your invitation to the IMS Clinic patient portal"
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Hello Nora Newcomer," in text and "Nora Newcomer" in html
    link = smtp_server.last_link("/auth/invite/")
    assert link.startswith("http://localhost/auth/invite/")
    assert f'href="{link}"' in html

    [message] = _outbox(db)
    assert message.status == "sent" and message.attempts == 1 and message.sent_at
    assert message.last_error is None

    # The link works (and only the link: the token is not guessable from the message).
    client.post("/auth/logout")
    page = client.get(link.removeprefix("http://localhost"))
    assert page.status_code == 200
    assert "Nora Newcomer" in page.get_data(as_text=True)

    # Sent means sent: a second run sends nothing again.
    assert "sent 0, failed 0" in runner.invoke(args=["send-mail"]).output
    assert len(smtp_server.messages) == 1


def test_server_down_then_retried_with_backoff(mail_app, client, auth, runner, smtp_server,
                                               db):
    _invite(client, auth)
    mail_app.config["MAIL_PORT"] = _closed_port()

    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 0, failed 1" in result.output
    [message] = _outbox(db)
    assert message.status == "pending"
    assert message.attempts == 1
    assert message.last_error and "Connection" in message.last_error
    assert message.next_attempt_at > clock.now()
    first_retry = message.next_attempt_at

    # Not yet due: nothing is tried, even with the server back.
    mail_app.config["MAIL_PORT"] = smtp_server.port
    assert "sent 0, failed 0" in runner.invoke(args=["send-mail"]).output
    assert smtp_server.messages == []
    assert _outbox(db)[0].attempts == 1

    clock.advance(seconds=(first_retry - clock.now()).total_seconds() + 1)
    assert "sent 1, failed 0" in runner.invoke(args=["send-mail"]).output
    assert "sent 0, failed 0" in runner.invoke(args=["send-mail"]).output
    assert len(smtp_server.messages) == 1
    [message] = _outbox(db)
    assert message.status == "sent" and message.attempts == 2 and message.last_error is None


def test_gives_up_after_max_attempts(mail_app, client, auth, runner, smtp_server, db):
    mail_app.config.update(MAIL_PORT=_closed_port(), MAIL_MAX_ATTEMPTS=4)
    _invite(client, auth)

    delays = []
    for attempt in range(1, 4):
        assert "sent 0, failed 1" in runner.invoke(args=["send-mail"]).output
        [message] = _outbox(db)
        assert message.status == "pending" and message.attempts == attempt
        delays.append(message.next_attempt_at - clock.now())
        clock.advance(hours=7)  # beyond the longest backoff
    assert delays[0] < delays[1] < delays[2]  # the wait grows

    assert "sent 0, failed 1" in runner.invoke(args=["send-mail"]).output
    [message] = _outbox(db)
    assert message.status == "failed" and message.attempts == 4 and message.last_error

    # Given up means no more tries, even with the server back.
    mail_app.config["MAIL_PORT"] = smtp_server.port
    clock.advance(days=1)
    assert "sent 0, failed 0" in runner.invoke(args=["send-mail"]).output
    assert smtp_server.messages == []


def test_the_request_queues_a_task_and_the_worker_sends(mail_app, client, auth, smtp_server,
                                                        db):
    """The request writes the message and, once committed, queues the delivery task; the
    request itself sends nothing. The worker's task then sends it."""
    doctor = make_practitioner()
    auth.login(doctor)
    assert tasks.huey.pending_count() == 0
    response = client.post("/clinic/invitations",
                           data={"name": "Quick Mail", "email": "quick@example.org"})
    assert response.status_code == 303
    assert smtp_server.messages == []
    assert [t.name for t in tasks.huey.pending()] == ["deliver_mail"]
    assert tasks.run_pending() == 1
    [msg] = smtp_server.parsed()
    assert msg["To"] == "quick@example.org"
    [message] = _outbox(db)
    assert message.status == "sent" and message.attempts == 1


def test_nothing_is_queued_when_the_transaction_rolls_back(app, db):
    mail.queue("invitation", "never@example.org", "en", **_invite_context())
    db.session.rollback()
    db.session.commit()
    assert tasks.huey.pending_count() == 0


def test_requests_that_queue_nothing_queue_no_task(mail_app, client, auth, smtp_server, db):
    mail.queue("invitation", "later@example.org", "en", **_invite_context())
    db.session.commit()
    tasks.huey.flush()
    patient = make_patient()
    auth.login(patient)
    client.get("/me/")
    assert tasks.huey.pending_count() == 0
    assert smtp_server.messages == []
    assert _outbox(db)[0].status == "pending"


def test_console_backend_writes_eml_files(app, client, auth, runner, tmp_path, db):
    app.config["MAIL_BACKEND"] = "console"
    _invite(client, auth, email="console@example.org", name="Cora Console")
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and files[0].name.endswith("-invitation.eml")
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "console@example.org"
    assert msg["Subject"] == "Your invitation to the IMS Clinic patient portal"
    assert "/auth/invite/" in msg.get_body(preferencelist=("plain",)).get_content()
    assert _outbox(db)[0].status == "sent"


# --- language -------------------------------------------------------------------------

def test_mail_is_in_the_recipients_language(mail_app, client, auth, runner, smtp_server,
                                            db):
    """An English-speaking practitioner resends an invitation to a French-speaking patient:
    the e-mail is in French, whatever the language of the page that caused it."""
    invited = make_patient(password=None, locale="fr_CA", name="Josée Tremblay")
    doctor = make_practitioner(locale="en")
    auth.login(doctor)
    client.extra_headers = {"Accept-Language": "en"}
    response = client.post(f"/clinic/invitations/{invited.public_id}/resend")
    assert response.status_code == 303
    runner.invoke(args=["send-mail"])
    [msg] = smtp_server.parsed()
    english = "Your invitation to the IMS Clinic patient portal"
    with force_locale("fr_CA"):
        french = gettext("Your invitation to the %(clinic)s patient portal",
                         clinic="IMS Clinic")
    assert french != english, "the French catalogue lacks the invitation subject"
    assert msg["Subject"] == french
    assert 'lang="fr-CA"' in msg.get_body(preferencelist=("html",)).get_content()

    # The English-speaking practitioner's own reset e-mail stays English.
    client.post("/auth/logout")
    client.post("/auth/reset", data={"email": doctor.email})
    runner.invoke(args=["send-mail"])
    assert smtp_server.parsed()[-1]["Subject"].startswith("Reset your password")


# --- no health information (SPEC 6.1) -------------------------------------------------

HEALTH_WORDS = re.compile(
    r"pain|douleur|symptom|sympt[ôo]me|diagnos|treatment|traitement|needl|aiguill|"
    r"clearance|questionnaire|intake|medica|m[ée]dica|injur|bless|score|rating|"
    r"radicul|myofasc|nerve|nerf|muscle|physician|m[ée]decin|red flag|cleared|"
    r"discharged|in_treatment|intake_submitted|status",
    re.IGNORECASE)


def _skeleton(body: str, *, name: str, link: str, clinic: str) -> str:
    """The message with the parts that vary per person replaced by markers."""
    return body.replace(link, "<LINK>").replace(name, "<NAME>").replace(clinic, "<CLINIC>")


def _messages_for(db, kind: str) -> list[OutboxMessage]:
    return [m for m in _outbox(db) if m.kind == kind]


def test_invitation_and_reset_bodies_hold_only_name_link_and_clinic(client, auth, db):
    settings = current_settings()
    settings.name = "Harbour Physio"
    db.session.commit()
    # Two patients in different states: the e-mails must not tell them apart.
    first = make_patient(name="Alma Atkins", password=None)
    second = make_patient(name="Bruno Beaulieu")
    second.patient.status = "intake_submitted"
    db.session.commit()
    doctor = make_practitioner()
    auth.login(doctor)
    assert client.post(f"/clinic/invitations/{first.public_id}/resend").status_code == 303
    assert client.post("/clinic/invitations", data={"name": "Carl Carter",
                                                    "email": "carl@example.org"}
                       ).status_code == 303
    client.post("/auth/logout")
    for user in (second, doctor):
        client.post("/auth/reset", data={"email": user.email})

    skeletons = {}
    for kind, names in (("invitation", {first.email: first.name,
                                        "carl@example.org": "Carl Carter"}),
                        ("password_reset", {second.email: second.name,
                                            doctor.email: doctor.name})):
        messages = _messages_for(db, kind)
        assert len(messages) == 2
        for message in messages:
            name = names[message.to_addr]
            links = set(re.findall(r"https?://[^\s\"<>]+", message.body_text + " "
                                   + message.body_html))
            assert len(links) == 1, links
            link = links.pop()
            # The link is an opaque token, nothing about the person.
            assert re.fullmatch(r"http://localhost/auth/(invite|reset)/[A-Za-z0-9_-]{20,}",
                                link)
            user = db.session.scalar(select(User).where(User.email == message.to_addr))
            assert user.public_id not in link
            for part in (message.subject, message.body_text, message.body_html):
                assert not HEALTH_WORDS.search(part), (kind, part)
            assert name in message.body_text and "Harbour Physio" in message.body_text
            skeleton = tuple(_skeleton(part, name=name, link=link, clinic="Harbour Physio")
                             for part in (message.subject, message.body_text,
                                          message.body_html))
            assert message.to_addr not in "".join(skeleton)
            skeletons.setdefault(kind, set()).add(skeleton)
        # Apart from name, link and clinic, the two messages are word for word the same.
        assert len(skeletons[kind]) == 1, skeletons[kind]


@pytest.mark.parametrize("kind,context", [
    ("invitation", _invite_context()),
    ("password_reset", {"name": "Ruth Example", "link": "http://localhost/auth/reset/x",
                        "minutes": 60}),
])
def test_templates_take_no_health_context(app, db, kind, context):
    """Whatever a caller passes by mistake, the templates only print name, link and
    clinic (and the link's validity)."""
    leaky = dict(context, diagnosis="lumbar radiculopathy", pain_score=8,
                 notes="needling L4-L5", status="in_treatment")
    message = mail.queue(kind, "x@example.org", "en", **leaky)
    for part in (message.subject, message.body_text, message.body_html):
        for secret in ("radiculopathy", "8", "L4", "needling", "in_treatment"):
            if secret == "8":
                assert not re.search(r"\b8\b", part)
            else:
                assert secret not in part
    db.session.rollback()
