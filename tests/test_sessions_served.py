"""Sessions kept on the server (SPEC 1.4, 8.7) with several gunicorn workers: whichever
worker answers, the browser is signed in, its messages reach the next page, and sign-out
ends it everywhere. Nothing a session holds lives in a process."""
from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.factories import PASSWORD, make_patient

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
WORKERS = 3
_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(app, tmp_path):
    """gunicorn with several workers on the test's database, as in production."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "PORTAL_", "DATABASE_", "SECRET_", "ENCRYPTION_",
                                  "TASK_", "SESSION_"))}
    env.update(PORTAL_ENV="production", SECRET_KEY="served-sessions-" + "x" * 32,
               ENCRYPTION_KEYS=Fernet.generate_key().decode(),
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               MAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
               TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'tasks.db'}",
               SESSION_COOKIE_SECURE="false")  # plain HTTP here
    with open(tmp_path / "gunicorn.log", "wb") as log:
        proc = subprocess.Popen([str(GUNICORN), "-b", f"127.0.0.1:{port}", "-w", str(WORKERS),
                                 "--graceful-timeout", "5", "app:app"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:  # not listening yet, or no worker ready
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect)
        self.token = ""

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=10) as response:
                body = response.read().decode()
                if match := _TOKEN.search(body):
                    self.token = match.group(1)
                return response.status, body
        except urllib.error.HTTPError as error:
            return error.code, ""

    def post(self, path: str, data: dict) -> int:
        request = urllib.request.Request(
            self.base + path, data=urllib.parse.urlencode(data).encode(),
            headers={"X-CSRFToken": self.token, "Referer": self.base + path})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def cookie(self) -> str:
        return next(c.value for c in self.jar if c.name == "portal_session")


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
def test_several_workers_share_the_sessions(served):
    patient = make_patient(name="Gunnar Worker")
    browser = Browser(served)
    assert browser.get("/auth/login")[0] == 200
    assert browser.post("/auth/login", {"email": patient.email, "password": PASSWORD}) == 303
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", browser.cookie())
    # Many requests: the workers take turns, each reads the same session.
    for _ in range(4 * WORKERS):
        status, body = browser.get("/me/")
        assert status == 200 and "Gunnar Worker" in body

    assert browser.post("/auth/logout", {}) == 303
    status, body = browser.get("/auth/login")
    assert status == 200 and "You have signed out." in body
    for _ in range(2 * WORKERS):
        assert browser.get("/me/")[0] in (302, 303)  # to the sign-in page
