"""SPEC 1.6, 8.7, 8.8: the sign-in limits live in Redis when several processes run; a Redis
that is down turns no sign-in into a 500 (the limits are counted in memory meanwhile and
the outage is logged once), and production refuses to count in each worker's memory unless
told to."""
from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from portal import create_app
from portal.config import TestConfig, ratelimit_storage_options
from portal.extensions import db, limiter
from tests.auth.helpers import html, sign_in
from tests.factories import PASSWORD, make_patient

ROOT = Path(__file__).resolve().parent.parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _store(url: str, **extra) -> dict:
    return {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_STORAGE_OPTIONS":
            ratelimit_storage_options(url), **extra}


@pytest.fixture(autouse=True)
def _store_taken_as_up_again():
    """The limiter is one object for every app a test run builds: an outage it noticed in
    one test must not carry over to the next app (a process has one app in production)."""
    yield
    limiter._storage_dead = False


def _fail(client, email: str):
    return client.post("/auth/login", data={"email": email, "password": "not the password"})


def _errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("app_config", [_store(DOWN_URL)], ids=["redis-down"])
def test_sign_in_works_while_the_store_is_down_and_the_outage_is_logged_once(
        client, app, caplog):
    caplog.set_level(logging.INFO)
    patients = [make_patient() for _ in range(3)]
    answers = []
    for patient in patients:
        answers.append(_fail(client, patient.email).status_code)
        answers.append(sign_in(client, patient).status_code)
        answers.append(client.get("/me/").status_code)
        client.post("/auth/logout", data={})
        answers.append(client.post("/auth/reset", data={"email": patient.email}).status_code)
    assert answers == [422, 303, 200, 200] * 3
    errors = _errors(caplog)
    assert [(r.name, r.levelname) for r in errors] == [("portal.ratelimit", "ERROR")], errors
    assert "cannot be reached" in errors[0].getMessage()
    assert "Connection refused" in caplog.text  # the cause, with the error
    assert all(patient.email not in caplog.text for patient in patients)


@pytest.mark.parametrize("app_config", [_store(DOWN_URL, LOGIN_LIMIT_PER_IP="3 per minute",
                                               LOGIN_LIMIT_PER_ACCOUNT="2 per minute")],
                         ids=["redis-down"])
def test_the_limits_still_apply_in_memory_during_the_outage(client, app, caplog):
    caplog.set_level(logging.INFO)
    first, second, third = make_patient(), make_patient(), make_patient()
    # Per account: two tries, then 429, from any address.
    assert [_fail(client, first.email).status_code for _ in range(3)] == [422, 422, 429]
    other = app.test_client()
    response = other.post("/auth/login", data={"email": first.email, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 429 and "Too many attempts" in html(response)
    # Per address: the third and last try of this address is the limit.
    assert _fail(client, second.email).status_code == 422
    assert _fail(client, third.email).status_code == 429
    response = other.post("/auth/login", data={"email": third.email, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.9.8.6"})
    assert response.status_code == 303
    # Flask-Limiter's note of a limit reached names the address typed: not logged.
    assert first.email not in caplog.text and third.email not in caplog.text


@pytest.fixture
def redis_store(app_config):
    """A real Redis (TEST_REDIS_URL) with a key prefix of this test's own, emptied after."""
    prefix = f"test-{secrets.token_hex(6)}"
    app_config.update(_store(REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                             LOGIN_LIMIT_PER_ACCOUNT="2 per minute"))
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable: {exc}")
    yield connection, prefix
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)
    connection.close()


def test_the_limits_are_counted_in_redis_for_every_process(redis_store, client, app,
                                                           tmp_path):
    connection, prefix = redis_store
    patient = make_patient()
    assert _fail(client, patient.email).status_code == 422
    keys = [key.decode() for key in connection.scan_iter(f"*{prefix}*")]
    assert any("account:" + patient.email in key for key in keys), keys
    assert _fail(client, patient.email).status_code == 422

    # Another process of the portal, with the same database and Redis: the count is shared.
    from tests.conftest import _config
    second = create_app(_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path,
                                **_store(REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                                         LOGIN_LIMIT_PER_ACCOUNT="2 per minute")))
    second.test_client_class = type(client)
    with second.app_context():
        response = _fail(second.test_client(), patient.email)
        db.session.remove()
        db.engine.dispose()
    assert response.status_code == 429


# --- production refuses limits counted per worker ----------------------------------------

def _production(**settings) -> dict:
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(ENV_NAME="production", SECRET_KEY="s" * 48,
                  ENCRYPTION_KEYS=Fernet.generate_key().decode(), **settings)
    return config


def test_production_refuses_memory_limits_with_several_workers():
    with pytest.raises(RuntimeError) as refused:
        create_app(_production(RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY=4))
    message = str(refused.value)
    assert "memory://" in message and "4 web workers" in message
    assert "RATELIMIT_ALLOW_PER_WORKER=1" in message and "WEB_CONCURRENCY=1" in message


@pytest.mark.parametrize("settings", [
    {"RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": 1},
    {"RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": 4,
     "RATELIMIT_ALLOW_PER_WORKER": True},
    {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "WEB_CONCURRENCY": 4},
    {"RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": 4, "RATELIMIT_ENABLED": False},
], ids=["one-worker", "allowed", "redis", "no-limits"])
def test_production_starts_when_the_limits_are_shared_or_allowed(settings):
    assert create_app(_production(**settings)).config["ENV_NAME"] == "production"


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
@pytest.mark.parametrize("workers, argv", [({}, []), ({"WEB_CONCURRENCY": "1"}, ["-w", "3"])],
                         ids=["default-2", "command-line-3"])
def test_gunicorn_refuses_memory_limits_with_several_workers(tmp_path, workers, argv):
    """deploy/gunicorn.conf.py checks the number of workers gunicorn really starts: its own
    default of 2, or a `-w` on the command line that the app cannot see."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "PORTAL_", "DATABASE_", "SECRET_", "ENCRYPTION_",
                                "TASK_", "RATELIMIT_", "WEB_", "GUNICORN_"))}
    env.update(PORTAL_ENV="production", SECRET_KEY="g" * 48,
               ENCRYPTION_KEYS=Fernet.generate_key().decode(),
               DATABASE_URL=f"sqlite:///{tmp_path / 'portal.db'}",
               GUNICORN_BIND="127.0.0.1:0", **workers)
    proc = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", *argv, "app:app"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = output.decode(errors="replace")
    assert proc.returncode == 1, text
    assert "Error: RATELIMIT_STORAGE_URI is memory://" in text
    assert "RATELIMIT_ALLOW_PER_WORKER=1" in text
