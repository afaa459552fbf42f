"""The production entry point: gunicorn serves `app:app` configured only by the environment
(SPEC 8.6, 8.7, 10 /healthz)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(app, tmp_path, **overrides) -> dict[str, str]:
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


def _start(env, tmp_path, port):
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(GUNICORN), "-b", f"127.0.0.1:{port}", "-w", "1",
                             "--graceful-timeout", "5", "app:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def _stop(proc, log) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    log.close()


def _log(tmp_path) -> str:
    return (tmp_path / "gunicorn.log").read_text(errors="replace")


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
def test_gunicorn_serves_healthz_in_production(app, tmp_path):
    port = _free_port()
    proc, log = _start(_environment(app, tmp_path), tmp_path, port)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        response = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"gunicorn exited early:\n{_log(tmp_path)}"
            try:
                response = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        assert response is not None, f"no answer in {START_TIMEOUT} s:\n{_log(tmp_path)}"
        assert response.status == 200
        body = json.loads(response.read())
        assert body["status"] == "ok" and body["database"] == "ok"
        assert set(body) == {"status", "database"}  # no data (SPEC 10)
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in headers["Cache-Control"]
    finally:
        _stop(proc, log)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
def test_gunicorn_refuses_production_without_secrets(app, tmp_path):
    env = _environment(app, tmp_path, SECRET_KEY=None, ENCRYPTION_KEYS=None)
    proc, log = _start(env, tmp_path, _free_port())
    try:
        proc.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn kept running without its secrets:\n{_log(tmp_path)}")
    finally:
        _stop(proc, log)
    assert proc.returncode != 0
    output = _log(tmp_path)
    assert "SECRET_KEY" in output and "ENCRYPTION_KEYS" in output, output
