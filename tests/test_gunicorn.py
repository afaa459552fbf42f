"""The production entry point: gunicorn serves `app:app` configured only by the environment
(SPEC 8.6, 8.7, 10 /healthz)."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.served import GUNICORN, START_TIMEOUT
from tests.served import environment as _environment
from tests.served import free_port as _free_port
from tests.served import server_log as _log
from tests.served import start as _start
from tests.served import stop as _stop


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
