"""The app served by a real gunicorn, and a plain HTTP client that reads every answer to its
last byte, as a browser or a download would.

Flask's test client runs a streamed response inside the test's own contexts; gunicorn
iterates it after the request's context has been torn down, where a generator that still
needs the request's session or its cached rows fails half-way. Only a real server shows
that, so the downloads are checked here (SPEC 7.1, 5.4, 3.2).
"""
from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
from cryptography.fernet import Fernet

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT = 20
# One key for the test process (which encrypts what the factories store, TOTP secrets
# included) and the server it starts: production refuses the development key.
ENCRYPTION_KEY = Fernet.generate_key().decode()
_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')

# For the test modules that serve their app: `pytestmark = served.needs_gunicorn`, and
# `from tests.served import app_config` (the app shares ENCRYPTION_KEY with its server).
needs_gunicorn = pytest.mark.skipif(not GUNICORN.exists(),
                                    reason="gunicorn is not installed in this environment")


@pytest.fixture
def app_config(app_config):
    app_config["ENCRYPTION_KEYS"] = ENCRYPTION_KEY
    return app_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(app, tmp_path, **overrides) -> dict[str, str]:
    """The production environment for ``app``'s database, nothing of the caller's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "PORTAL_", "DATABASE_", "SECRET_", "ENCRYPTION_",
                                  "TASK_"))}
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY="gunicorn-test-" + "x" * 32,
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        # The test's own database, already migrated (SQLite file or PostgreSQL).
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        MAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
        # The test's own queue, never the developer's instance/tasks.db.
        TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'tasks.db'}",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def start(env, tmp_path, port, workers: int = 1):
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(GUNICORN), "-b", f"127.0.0.1:{port}", "-w", str(workers),
                             "--graceful-timeout", "5", "app:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def stop(proc, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    log.close()


def server_log(tmp_path) -> str:
    return (tmp_path / "gunicorn.log").read_text(errors="replace")


def wait_until_up(proc, port: int, tmp_path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"gunicorn exited early:\n{server_log(tmp_path)}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no answer in {START_TIMEOUT} s:\n{server_log(tmp_path)}")


@contextlib.contextmanager
def gunicorn(app, tmp_path, workers: int = 1) -> Iterator[str]:
    """``app``'s database served by gunicorn in production mode (``workers`` processes), with
    the test's encryption key; yields the base address. What the test wrote is committed
    first."""
    from portal.extensions import db

    assert app.config["ENCRYPTION_KEYS"] == ENCRYPTION_KEY, \
        "the test's app needs served.ENCRYPTION_KEY (override app_config)"
    db.session.commit()
    port = free_port()
    proc, log = start(environment(app, tmp_path, ENCRYPTION_KEYS=ENCRYPTION_KEY),
                      tmp_path, port, workers)
    try:
        wait_until_up(proc, port, tmp_path)
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print(server_log(tmp_path)[-6000:])  # shown with the failure
        raise
    finally:
        stop(proc, log)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


@dataclass
class HttpClient:
    """Cookies kept by name (whatever their Secure flag: the server is on plain HTTP here),
    the CSRF token taken from the last page as the browser's htmx does, and every body read
    whole: a response cut short raises http.client.IncompleteRead."""
    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def request(self, method: str, path: str, data: dict | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        parts = urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        sent = {"Host": parts.netloc, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method != "GET":
            body = urlencode(data or {})
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent.setdefault("X-CSRFToken", self.token or self.fresh_token())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            conn.close()
        self._keep_cookies(answer.headers)
        if 300 <= answer.status < 400:
            self.token = None  # signing in and out starts a new session
        match = _TOKEN.search(answer.text) if "text/html" in answer.headers.get(
            "Content-Type", "") else None
        if match:
            self.token = match.group(1)
        return answer

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for line in headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def fresh_token(self) -> str:
        self.token = None
        answer = self.get("/auth/login")
        for _ in range(3):  # signed in: the sign-in page sends the user home
            if not 300 <= answer.status < 400:
                break
            answer = self.get(urlsplit(answer.location).path)
        assert self.token, "no CSRF token on the sign-in page"
        return self.token

    def get(self, path: str, params: dict | None = None, **kwargs) -> Answer:
        if params:
            path += "?" + urlencode(params)
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Answer:
        return self.request("POST", path, data=data, **kwargs)

    def sign_in(self, user) -> None:
        """Password, then the second factor when the account has one."""
        answer = self.post("/auth/login", {"email": user.email, "password": PASSWORD},
                           headers={"X-CSRFToken": self.fresh_token()})
        assert answer.status == 303, answer.text[:500]
        if "/auth/mfa" in answer.location:
            self.get(urlsplit(answer.location).path)  # the page and its token
            code = pyotp.TOTP(user.totp_secret_plain).now()
            answer = self.post("/auth/mfa", {"code": code})
            assert answer.status == 303, answer.text[:500]
        assert "/auth/" not in answer.location, answer.location
