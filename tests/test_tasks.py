"""The task queue (SPEC 6.3, 6.4): web requests never talk to the mail server; a real Huey
consumer delivers what they queued, exactly once however many workers run, through a mail
server that refuses or hangs, a queue that is down, and a worker killed mid-send.

The queue is SQLite storage in a temporary folder in the SQLite run and Redis (on
127.0.0.1:6379) in the PostgreSQL run, as in production with several workers.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import select

from portal import clock, mail, tasks
from portal.models import OutboxMessage
from tests.conftest import BACKEND
from tests.factories import make_admin, make_patient, make_practitioner

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _queue_url(tmp_path: Path) -> str:
    return REDIS_URL if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'tasks.db'}"


@pytest.fixture
def app_config(tmp_path):
    # A queue of its own per test: a file, or a Redis key prefix nobody else uses.
    return {"TASK_QUEUE_URL": _queue_url(tmp_path),
            "TASK_QUEUE_NAME": f"test-{secrets.token_hex(6)}"}


@pytest.fixture(autouse=True)
def _empty_queue_after(app):
    yield
    tasks.huey.flush()


class CountingSMTP:
    """A real SMTP server (aiosmtpd) that counts the connections made to it and keeps
    the messages; ``delay`` slows each message down (so that workers overlap)."""

    def __init__(self, delay: float = 0.0):
        self.connections = 0
        self.messages: list[bytes] = []
        self.delay = delay
        counter = self

        class Counting(SMTP):
            def connection_made(self, transport):
                counter.connections += 1
                super().connection_made(transport)

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):
                if counter.delay:
                    await asyncio.sleep(counter.delay)
                counter.messages.append(envelope.original_content or envelope.content)
                return "250 accepted"

        class AnyPort(Controller):
            def factory(self):
                return Counting(self.handler, hostname="127.0.0.1")

            def _trigger_server(self):
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self.controller = AnyPort(Handler(), hostname="127.0.0.1", port=0)

    def __enter__(self):
        self.controller.start()
        self.port = self.controller.port
        # The controller's own start-up check connects once; count from here.
        self.connections = 0
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def recipients(self) -> list[str]:
        from email import message_from_bytes, policy
        return [message_from_bytes(m, policy=policy.default)["To"] for m in self.messages]


class SilentServer:
    """Accepts connections and never says a word: a mail server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.thread.join(timeout=2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def _use_smtp(app, port: int) -> None:
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)


def _outbox(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- no request talks to the mail server ----------------------------------------------

def test_no_request_opens_an_smtp_connection(app, client, auth, db):
    """Invitations (staff and patient), a password reset and a session recorded all queue
    mail; the mail server sees no connection until the worker runs."""
    from tests.treatment.helpers import make_treatable
    from tests.treatment.test_sessions import record_form, sessions_url

    with CountingSMTP() as smtp:
        _use_smtp(app, smtp.port)
        auth.login(make_admin())
        assert client.post("/admin/staff/invite", data={
            "name": "Dr New", "email": "dr.new@example.org", "role": "practitioner"},
        ).status_code == 303
        auth.logout()

        doctor = make_practitioner()
        patient = make_treatable()
        auth.login(doctor)
        assert client.post("/clinic/invitations", data={
            "name": "Nora Newcomer", "email": "nora@example.org"}).status_code == 303
        response = client.post(sessions_url(patient), data=record_form(client, patient))
        assert response.status_code == 303
        auth.logout()
        assert client.post("/auth/reset", data={"email": patient.email}).status_code == 200

        queued = _outbox(db)
        assert len(queued) >= 3, [m.kind for m in queued]
        assert smtp.connections == 0
        assert smtp.messages == []

        # The "rating due" e-mail waits in the outbox until the rating opens, a day after
        # the session.
        clock.advance(hours=24, minutes=1)
        tasks.run_pending()
        assert smtp.connections >= 1
        assert sorted(smtp.recipients()) == sorted(m.to_addr for m in queued)


def test_reset_queues_the_same_work_for_unknown_addresses(app, client, db):
    """Same answer and the same write to the queue whether or not the address has an
    account (the timing of the answer tells nothing)."""
    patient = make_patient(email="known@example.org")
    assert patient
    for email in ("known@example.org", "nobody@example.org"):
        tasks.huey.flush()
        response = client.post("/auth/reset", data={"email": email})
        assert response.status_code == 200
        assert [t.name for t in tasks.huey.pending()] == ["deliver_mail"], email


# --- a real consumer ---------------------------------------------------------------------

def test_a_running_worker_delivers_what_a_request_queued(app, client, auth, db):
    with CountingSMTP() as smtp, tasks.BackgroundConsumer(workers=2):
        _use_smtp(app, smtp.port)
        auth.login(make_practitioner())
        assert client.post("/clinic/invitations", data={
            "name": "Nora Newcomer", "email": "nora@example.org"}).status_code == 303
        assert _wait_for(lambda: smtp.messages), "the worker did not deliver"
    assert smtp.recipients() == ["nora@example.org"]
    [message] = _outbox(db)
    assert message.status == "sent" and message.attempts == 1


def _worker(app, smtp_port: int, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "PORTAL_", "DATABASE_", "MAIL_", "TASK_"))}
    env.update(PORTAL_ENV="development", DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               TASK_QUEUE_URL=app.config["TASK_QUEUE_URL"],
               TASK_QUEUE_NAME=app.config["TASK_QUEUE_NAME"],
               MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port),
               MAIL_TIMEOUT="3", PYTHONUNBUFFERED="1")
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "flask", "worker", "--workers", "2"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(2)  # SIGINT: Huey's graceful stop
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_two_worker_processes_send_each_message_once(app, db, tmp_path):
    """Two `flask worker` processes (two threads each) drain one outbox: every message is
    sent exactly once, though each process got the same delivery tasks."""
    addresses = [f"person{i:02d}@example.org" for i in range(30)]
    with CountingSMTP(delay=0.02) as smtp:
        for address in addresses:
            mail.queue("invitation", address, "en", name="Someone", link="http://x/",
                       role="patient", days=7)
        db.session.commit()
        for _ in range(8):  # more rounds than needed, all at once
            tasks.enqueue(tasks.deliver_mail)
        workers = [_worker(app, smtp.port, tmp_path, f"worker{i}") for i in (1, 2)]
        try:
            assert _wait_for(lambda: len(smtp.messages) >= len(addresses), 60)
            time.sleep(1.0)  # a double would arrive now
        finally:
            _stop(*workers)
        logs = "".join((tmp_path / f"worker{i}.log").read_text() for i in (1, 2))
    assert sorted(smtp.recipients()) == sorted(addresses), logs
    assert all(m.status == "sent" and m.attempts == 1 for m in _outbox(db))
    # Both processes took part (the claim, not luck, kept them apart).
    assert logs.count("Executing portal.tasks.deliver_mail") >= 2


def test_a_worker_killed_mid_send_leaves_the_message_due_again(app, db, tmp_path):
    """A worker killed while the mail server hangs: its claim runs out and the message is
    delivered once by the next round."""
    mail.queue("invitation", "patient.one@example.org", "en", name="P", link="http://x/",
               role="patient", days=7)
    db.session.commit()
    with SilentServer() as silent:
        tasks.enqueue(tasks.deliver_mail)
        worker = _worker(app, silent.port, tmp_path, "killed")
        try:
            assert _wait_for(lambda: silent.accepted, 30), "the worker never connected"
            worker.kill()  # SIGKILL, mid-conversation
            worker.wait(timeout=10)
        finally:
            _stop(worker)
    [message] = _outbox(db)
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at > clock.now()  # claimed: nobody else sends it yet

    with CountingSMTP() as smtp:
        _use_smtp(app, smtp.port)
        assert mail.deliver_due() == (0, 0)  # still claimed
        clock.advance(minutes=6)
        assert mail.deliver_due() == (1, 0)
        assert mail.deliver_due() == (0, 0)
    assert smtp.recipients() == ["patient.one@example.org"]


# --- faults ------------------------------------------------------------------------------

def test_a_hanging_mail_server_holds_one_attempt_not_the_whole_outbox(app, db):
    """Accepts, never answers: one attempt waits for MAIL_TIMEOUT, the round stops there and
    the rest wait; when the server is back each message goes out once."""
    for i in range(5):
        mail.queue("invitation", f"p{i}@example.org", "en", name="P", link="http://x/",
                   role="patient", days=7)
    db.session.commit()
    app.config["MAIL_TIMEOUT"] = 1
    with SilentServer() as silent:
        _use_smtp(app, silent.port)
        assert mail.deliver_due() == (0, 1)
    messages = _outbox(db)
    assert [m.attempts for m in messages] == [1, 0, 0, 0, 0]
    assert "timed out" in messages[0].last_error

    with CountingSMTP() as smtp:
        _use_smtp(app, smtp.port)
        clock.advance(minutes=2)
        assert mail.deliver_due() == (5, 0)
        assert mail.deliver_due() == (0, 0)
    assert sorted(smtp.recipients()) == [f"p{i}@example.org" for i in range(5)]


def test_pages_still_answer_when_the_queue_is_down(app, client, auth, db, caplog):
    """Redis (or whatever holds the queue) unreachable: the invitation is still made and
    its mail kept in the outbox; the error is logged once, not per request; the periodic
    round delivers the mail once the queue is back."""
    working = tasks.huey.storage
    tasks.huey.storage = tasks.make_storage("redis://127.0.0.1:1/0", "down")
    try:
        _invite_three_while_down(client, auth, db, caplog)
    finally:
        tasks.huey.storage = working

    with CountingSMTP() as smtp:
        _use_smtp(app, smtp.port)
        tasks.retry_mail.call_local()
    assert len(smtp.messages) == 3


def _invite_three_while_down(client, auth, db, caplog):
    auth.login(make_practitioner())
    caplog.set_level(logging.ERROR, logger="portal.tasks")
    for i in range(3):
        response = client.post("/clinic/invitations", data={
            "name": f"Person {i}", "email": f"person{i}@example.org"})
        assert response.status_code == 303
    assert len(_outbox(db)) == 3
    errors = [r for r in caplog.records if r.name == "portal.tasks"]
    assert len(errors) == 1, [r.getMessage() for r in errors]


# --- the schedule ------------------------------------------------------------------------

def _runs_at(task, hour: int, minute: int) -> bool:
    return task.s().validate_datetime(datetime(2026, 12, 7, hour, minute))


def test_the_schedule(app):
    assert all(_runs_at(tasks.retry_mail, 9, m) for m in (0, 1, 59))
    assert _runs_at(tasks.rating_reminders, 9, 5) and not _runs_at(tasks.rating_reminders, 9, 6)
    assert _runs_at(tasks.staff_digest, 9, 15) and not _runs_at(tasks.staff_digest, 9, 16)
    assert _runs_at(tasks.sweep_documents, 9, 17) and not _runs_at(tasks.sweep_documents, 9, 0)
    assert _runs_at(tasks.sweep_sessions, 9, 41) and not _runs_at(tasks.sweep_sessions, 9, 17)


def _set_clock(moment: datetime) -> None:
    clock.reset()
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def test_the_digest_goes_out_once_the_clinics_day_reaches_digest_time(app, db):
    """DIGEST_TIME is the clinic's local time (Vancouver here, UTC-7 from November 2026)."""
    from portal.clinic_settings import current_settings
    current_settings().timezone = "America/Vancouver"
    db.session.commit()
    app.config["DIGEST_TIME"] = "07:30"
    make_practitioner(email="doc@example.org")
    # 14:20 UTC is 07:20 in Vancouver: too early.
    _set_clock(datetime(2026, 12, 7, 14, 20, tzinfo=UTC))
    tasks.staff_digest.call_local()
    assert [m.kind for m in _outbox(db)] == []
    _set_clock(datetime(2026, 12, 7, 14, 31, tzinfo=UTC))
    tasks.staff_digest.call_local()
    tasks.staff_digest.call_local()  # a second tick (or a second worker) sends nothing more
    assert [(m.kind, m.to_addr) for m in _outbox(db)] == [("staff_digest", "doc@example.org")]


def test_reminders_run_on_the_schedule(app, db):
    from tests.treatment.helpers import make_treatable, record

    session = record(make_treatable())
    clock.advance(hours=25)
    tasks.rating_reminders.call_local()
    assert "rating_reminder" in [m.kind for m in _outbox(db)]
    assert session


def test_only_the_tasks_module_imports_huey():
    """One place declares the queue and its tasks (ARCHITECTURE: portal/tasks.py)."""
    importers = sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / "portal").rglob("*.py")
        if any(line.lstrip().startswith(("import huey", "from huey"))
               for line in path.read_text(encoding="utf-8").splitlines()))
    assert importers == ["portal/tasks.py"]
