"""Undelivered e-mail on the admin home (SPEC 6.3): a message the real SMTP server refused
until MAIL_MAX_ATTEMPTS is listed for admins (what it is, to whom, when, how often tried,
why it failed; never its content); "Send again" gives it a new round, delivered by the
worker exactly once, audited; a stale page or a hostile address gets a clear answer."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import clock, tasks
from portal.models import AuditEvent, OutboxMessage
from tests.factories import make_admin, make_patient, make_practitioner
from tests.test_mail import _closed_port

ROW = re.compile(r'<tr id="mail-(\d+)"')
RESEND = re.compile(r'action="(/admin/mail/\d+/resend)"')


@pytest.fixture
def admin(client, auth, db):
    user = make_admin(name="Ada Admin")
    assert auth.login(user).status_code == 303
    return user


@pytest.fixture
def refusing(mail_app):
    """The mail server refuses every connection; two attempts before a message is given up."""
    mail_app.config.update(MAIL_PORT=_closed_port(), MAIL_MAX_ATTEMPTS=2)
    return mail_app


def _outbox(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _resent_events(db) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.resent")
                                   .order_by(AuditEvent.id)))


def _give_up(runner, db) -> None:
    """The worker tries what is due until every message is given up, the server refusing
    (a round stops at the first unreachable attempt, so two messages take four rounds)."""
    for _round in range(10):
        result = runner.invoke(args=["send-mail"])
        assert result.exit_code == 0, result.output
        assert "sent 0, failed 1" in result.output
        waiting = [m.next_attempt_at for m in _outbox(db) if m.status == "pending"]
        if not waiting:
            break
        # To the next retry, and no further: the admin stays signed in.
        clock.advance(seconds=(min(waiting) - clock.now()).total_seconds() + 1)
    assert {m.status for m in _outbox(db)} == {"failed"}
    tasks.huey.flush()  # the tasks the queuing requests left: the rounds above did their work


def _invite(client, email: str, name: str) -> None:
    response = client.post("/admin/staff/invite",
                           data={"name": name, "email": email, "role": "practitioner"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def _failed(db, n: int = 1, kind: str = "password_reset", error: str | None = None):
    """Messages already given up, written directly (for the page's layout)."""
    messages = []
    for i in range(n):
        message = OutboxMessage(kind=kind, to_addr=f"person{i}@example.org",
                                subject="Reset your password", body_text="Hello",
                                status="failed", attempts=2,
                                last_error=error or "ConnectionRefusedError: refused",
                                next_attempt_at=clock.now())
        db.session.add(message)
        db.session.flush()
        clock.advance(seconds=1)  # queued one after the other
        messages.append(message)
    db.session.commit()
    return messages


def _page(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(page: str) -> str:
    start = page.index('<section id="undelivered-mail"')
    return page[start:page.index("</section>", start)]


# --- the whole story, with the real SMTP server -----------------------------------------

def test_given_up_message_is_listed_then_sent_again_exactly_once(
        refusing, smtp_server, client, admin, runner, db):
    _invite(client, "nora@example.org", "Nora Newcomer")
    _give_up(runner, db)
    [message] = _outbox(db)
    assert message.attempts == 2

    page = _page(client)
    section = _section(page)
    assert "Undelivered e-mail" in section
    assert "1 e-mail could not be delivered" in section
    assert '<td class="cell--head">Invitation</td>' in section  # the kind's label, not its code
    assert "nora@example.org" in section
    assert "Attempts</span>2</td>" in section  # attempts
    assert "ConnectionRefusedError" in section and "Connection refused" in section
    assert "<time datetime=" in section  # when it was queued
    # Nothing of the message itself.
    assert message.subject not in page and "Nora Newcomer" not in section
    [stale_action] = RESEND.findall(page)
    assert stale_action == f"/admin/mail/{message.id}/resend"

    # The server is back; the admin sends the message again.
    refusing.config["MAIL_PORT"] = smtp_server.port
    response = client.post(stale_action)
    assert response.status_code == 303 and response.location.endswith("/admin/")
    assert smtp_server.messages == []  # the request only queued the delivery task
    assert [t.name for t in tasks.huey.pending()] == ["deliver_mail"]
    page = client.get(response.location).get_data(as_text=True)
    assert "The e-mail to nora@example.org will be sent again." in page
    assert "No e-mail is waiting" in _section(page)

    assert tasks.run_pending() == 1
    [sent] = smtp_server.parsed()
    assert sent["To"] == "nora@example.org"
    assert "/auth/invite/" in sent.get_body(preferencelist=("plain",)).get_content()
    [message] = _outbox(db)
    assert message.status == "sent" and message.attempts == 1 and message.last_error is None

    [event] = _resent_events(db)
    assert event.actor_id == admin.id and event.subject == str(message.id)
    assert '"kind": "invitation"' in event.detail

    # The same button again, from the page loaded before: a clear answer, nothing sent.
    response = client.post(stale_action)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "The e-mail to nora@example.org is not waiting any more" in page
    tasks.run_pending()
    runner.invoke(args=["send-mail"])
    assert len(smtp_server.messages) == 1
    assert len(_resent_events(db)) == 1


def test_send_all_again(refusing, smtp_server, client, admin, runner, db):
    _invite(client, "one@example.org", "One Person")
    _invite(client, "two@example.org", "Two Person")
    _give_up(runner, db)
    page = _page(client)
    assert "2 e-mails could not be delivered" in page
    assert len(ROW.findall(page)) == 2

    refusing.config["MAIL_PORT"] = smtp_server.port
    response = client.post("/admin/mail/resend")
    assert response.status_code == 303
    assert "2 e-mails will be sent again." in client.get("/admin/").get_data(as_text=True)
    tasks.run_pending()
    assert sorted(m["To"] for m in smtp_server.parsed()) == ["one@example.org",
                                                             "two@example.org"]
    assert {m.status for m in _outbox(db)} == {"sent"}
    assert sorted(e.subject for e in _resent_events(db)) == sorted(str(m.id)
                                                                  for m in _outbox(db))

    # Pressed again from a stale page: nothing waits, nothing is sent twice.
    response = client.post("/admin/mail/resend")
    assert "No e-mail is waiting to be sent again." in \
        client.get(response.location).get_data(as_text=True)
    tasks.run_pending()
    assert len(smtp_server.messages) == 2 and len(_resent_events(db)) == 2


def test_htmx_swaps_the_section_with_the_flash(client, admin, db):
    [message] = _failed(db)
    response = client.post(f"/admin/mail/{message.id}/resend",
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="undelivered-mail"')
    assert "<html" not in body and 'data-hx-swap-oob="true"' in body
    assert "will be sent again" in body and "No e-mail is waiting" in body
    assert "HX-Request" in response.headers.get("Vary", "")


# --- the page ---------------------------------------------------------------------------

def test_nothing_waiting_says_so(client, admin, db):
    section = _section(_page(client))
    assert "No e-mail is waiting" in section
    assert "Send all again" not in section and not ROW.findall(section)


def test_twenty_most_recent_and_how_many_more(client, admin, db):
    messages = _failed(db, 23, error="SMTPRecipientsRefused: " + "x" * 1990)
    page = _page(client)
    shown = [int(i) for i in ROW.findall(page)]
    assert shown == [m.id for m in reversed(messages)][:20]
    assert "23 e-mails could not be delivered" in page
    assert "And 3 more, queued earlier" in page
    # The error, trimmed.
    errors = re.findall(r"<code>(SMTPRecipientsRefused: x+…)</code>", page)
    assert len(errors) == 20 and all(len(e) == 200 for e in errors)
    assert '<td class="cell--head">Password reset</td>' in page


def test_unknown_kind_is_shown_by_its_code(client, admin, db):
    _failed(db, kind="some_new_kind")
    assert '<td class="cell--head">some_new_kind</td>' in _page(client)


def test_french_page(client, auth, db):
    admin = make_admin(locale="fr_CA")
    assert auth.login(admin).status_code == 303
    section = _section(_page(client))
    assert "Courriels non distribués" in section and "Aucun courriel n'attend" in section
    _failed(db, 2)
    section = _section(_page(client))
    assert "Courriels non distribués" in section
    assert "2 courriels n'ont pas pu être distribués" in section
    assert "Réinitialisation du mot de passe" in section
    assert "Envoyer de nouveau" in section and "Tout envoyer de nouveau" in section
    for english in ("Undelivered e-mail", "Send again", "Password reset", "Last error"):
        assert english not in section


# --- what may not be done ---------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/admin/mail/424242/resend",                     # no such message
    "/admin/mail/abc/resend",
    "/admin/mail/%00/resend",
    "/admin/mail/1%00/resend",
    "/admin/mail/-1/resend",
    "/admin/mail/1.5/resend",
    "/admin/mail/2147483648/resend",                 # past the database's integers
    "/admin/mail/99999999999999999999999999999/resend",
    "/admin/mail/" + "9" * 5000 + "/resend",         # past Python's int() digit limit
])
def test_hostile_addresses_are_not_found(client, admin, db, path):
    _failed(db)  # the one message there is stays untouched
    response = client.post(path)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert _outbox(db)[0].status == "failed"
    assert _resent_events(db) == []


def test_nul_bytes_and_missing_token_are_refused(client, admin, db):
    [message] = _failed(db)
    url = f"/admin/mail/{message.id}/resend"
    assert client.post(url, data={"csrf_token": "\x00" * 40}).status_code == 400
    assert client.post(url, csrf=False).status_code == 400
    assert client.post("/admin/mail/resend", csrf=False).status_code == 400
    assert client.get(url).status_code == 405
    # A NUL byte in any field is refused before anything happens (portal.errors)...
    assert client.post(url, data={"message_id": "\x00"}).status_code == 400
    assert _outbox(db)[0].status == "failed" and _resent_events(db) == []
    # ...and extra fields change nothing about which message is sent again.
    response = client.post(url, data={"message_id": "7", "id": "9" * 100})
    assert response.status_code == 303
    assert _outbox(db)[0].status == "pending" and len(_resent_events(db)) == 1


@pytest.mark.parametrize("status", ["pending", "sent"])
def test_a_message_that_did_not_fail_is_not_sent_again(client, admin, db, status):
    [message] = _failed(db)
    message.status = status
    db.session.commit()
    response = client.post(f"/admin/mail/{message.id}/resend")
    assert response.status_code == 303
    assert "is not waiting any more" in client.get("/admin/").get_data(as_text=True)
    assert _outbox(db)[0].status == status and _outbox(db)[0].attempts == 2
    assert _resent_events(db) == [] and tasks.huey.pending_count() == 0


@pytest.mark.parametrize("make", [make_practitioner, make_patient])
def test_only_admins(client, auth, db, make):
    [message] = _failed(db)
    assert auth.login(make()).status_code == 303
    for path in (f"/admin/mail/{message.id}/resend", "/admin/mail/resend"):
        response = client.post(path)
        assert response.status_code == 404, path
    assert client.get("/admin/").status_code == 404
    assert _outbox(db)[0].status == "failed" and _resent_events(db) == []


def test_visitors_are_sent_to_sign_in(client, db):
    [message] = _failed(db)
    response = client.post(f"/admin/mail/{message.id}/resend")
    assert response.status_code in (302, 303) and "/auth/login" in response.location
    assert _outbox(db)[0].status == "failed"
