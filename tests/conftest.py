"""Test harness: a real database per test (SQLite file or PostgreSQL), CSRF left on, a real
SMTP server, a live server and Debian's Chromium for the browser tests.

The backend comes from PORTAL_TEST_DB: ``sqlite`` (default) or ``postgresql``. The
PostgreSQL run creates a dedicated database on TEST_POSTGRES_URL (default: the local server,
trust auth), migrates it once, empties it between tests and drops it at the end. Both
databases are thrown away, so their commits do not wait for the disk. On CI
(``CI`` set) PostgreSQL must be reachable; elsewhere its run is skipped if it is not.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from portal import clock, create_app
from portal.config import TestConfig
from portal.extensions import db as _db
from tests.factories import PASSWORD

BACKEND = os.environ.get("PORTAL_TEST_DB", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_sessionstart(session):
    """The static files under their hashed names, minified (``make assets`` does the same),
    from the files as they are now, before any app reads the manifest."""
    if os.environ.get("PORTAL_STATIC_BUILT"):  # `make test` built them once for both runs
        return
    from portal.assets import build_static
    build_static(Path(__file__).resolve().parent.parent / "static")


def pytest_report_header(config):
    return f"portal database backend: {BACKEND}"


# --- database ---------------------------------------------------------------------------

def _migrate(url: str) -> None:
    from flask_migrate import upgrade
    app = create_app(_config(url, Path(os.environ.get("TMPDIR", "/tmp"))))
    with app.app_context():
        upgrade()
        _db.engine.dispose()


def _config(url: str, tmp: Path, **extra) -> dict:
    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(SQLALCHEMY_DATABASE_URI=url, MAIL_OUTBOX_DIR=str(tmp / "outbox"))
    if url.startswith("sqlite"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 15}}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """A migrated database for the session: a template file (SQLite) or a database
    created for this run (PostgreSQL)."""
    if BACKEND == "sqlite":
        template = tmp_path_factory.mktemp("db") / "template.db"
        _migrate(f"sqlite:///{template}")
        yield {"backend": "sqlite", "template": template}
        return
    name = f"ims_portal_test_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A database thrown away after the run: its commits need not wait for the disk
            # (each one did, some 30 ms on this machine's disks). Nothing else changes.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        _migrate(url)
        yield {"backend": "postgresql", "url": url}
    finally:
        if _cleaner.get("url") == url:
            _cleaner.pop("engine").dispose()
            _cleaner.clear()
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@event.listens_for(Engine, "connect")
def _no_disk_wait(connection, _record) -> None:
    """A test's SQLite file is thrown away after the test: its commits need not wait for
    the disk (PRAGMA synchronous = OFF; the PostgreSQL run's database has synchronous_commit
    off). Locking, transactions and everything else the portal relies on stay as they are."""
    if type(connection).__module__.startswith("sqlite3"):
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()


def _database_url(database, tmp_path: Path) -> str:
    if database["backend"] == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copyfile(database["template"], path)
        return f"sqlite:///{path}"
    _empty(database["url"])
    return database["url"]


_cleaner: dict = {}


def _empty(url: str) -> None:
    """Empty the PostgreSQL run's database for the next test: TRUNCATE the tables the last
    test filled (a TRUNCATE costs the same for an empty table as for a full one, some 7 ms a
    table here, and a test fills a few of them), and restart every sequence it used, so that
    each test starts as on a new database."""
    if _cleaner.get("url") != url:
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")).scalars().all()
        _cleaner.update(url=url, engine=engine, filled=" UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables))
    with _cleaner["engine"].begin() as conn:
        filled = conn.execute(text(_cleaner["filled"])).scalars().all()
        used = conn.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
            "AND last_value IS NOT NULL")).scalars().all()
        if filled:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in filled)
                              + " RESTART IDENTITY CASCADE"))
        for sequence in used:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture
def app_config():
    """Tests override configuration by adding to this dict before `app` is created."""
    return {}


@pytest.fixture
def app(database, tmp_path, app_config):
    app = create_app(_config(_database_url(database, tmp_path), tmp_path, **app_config))
    ctx = app.app_context()
    ctx.push()
    yield app
    _db.session.remove()
    _db.engine.dispose()
    ctx.pop()


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def db(app):
    return _db


# --- clients ----------------------------------------------------------------------------

_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


class CSRFClient(FlaskClient):
    """Sends the CSRF token the way the browser does: taken from the last page (the
    ``data-hx-headers`` on <body>) and sent as X-CSRFToken. ``csrf=False`` sends none."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.token: str | None = None
        self.extra_headers: dict[str, str] = {}

    def fresh_token(self) -> str:
        self.token = None
        # The whole page (the token is on <body>), even from a client that sends HX-Request.
        self.get("/auth/login", follow_redirects=True, headers={"HX-Request": "false"})
        assert self.token, "no CSRF token found on the sign-in page"
        return self.token

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        for key, value in self.extra_headers.items():
            headers.setdefault(key, value)
        if method not in ("GET", "HEAD", "OPTIONS") and csrf:
            data = kwargs.get("data")
            has_field = isinstance(data, dict) and "csrf_token" in data
            if not has_field and "X-CSRFToken" not in headers:
                headers["X-CSRFToken"] = self.token or self.fresh_token()
        kwargs["headers"] = headers
        # A fresh app context per request, as in production: without it the request would
        # reuse the test's app context and its `g` (and signed-in user) across requests.
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if 300 <= response.status_code < 400 or response.headers.get("HX-Redirect"):
            self.token = None  # sign-in and sign-out start a new session
        elif response.mimetype == "text/html":
            match = _TOKEN.search(response.get_data(as_text=True))
            if match:
                self.token = match.group(1)
        return response


@pytest.fixture
def client(app):
    app.test_client_class = CSRFClient
    return app.test_client()


@pytest.fixture
def htmx_client(app):
    """A client whose every request is an htmx request (HX-Request: true)."""
    app.test_client_class = CSRFClient
    c = app.test_client()
    c.extra_headers = {"HX-Request": "true"}
    return c


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- people -----------------------------------------------------------------------------

@dataclass
class Auth:
    client: CSRFClient

    def login(self, user_or_email, password: str = PASSWORD,
              totp_secret: str | None = None, follow: bool = False):
        email = getattr(user_or_email, "email", user_or_email)
        response = self.client.post("/auth/login", data={"email": email, "password": password})
        secret = totp_secret or getattr(user_or_email, "totp_secret_plain", None)
        if secret and response.status_code in (302, 303) and "/auth/mfa" in response.location:
            code = pyotp.TOTP(secret).now()
            response = self.client.post("/auth/mfa", data={"code": code})
        if follow and response.status_code in (302, 303):
            response = self.client.get(response.location)
        return response

    def logout(self):
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


# --- mail -------------------------------------------------------------------------------

@dataclass
class SMTPServer:
    host: str
    port: int
    messages: list = field(default_factory=list)

    def parsed(self):
        return [message_from_bytes(m, policy=policy.default) for m in self.messages]

    def last_link(self, contains: str = "/auth/") -> str:
        for msg in reversed(self.parsed()):
            body = msg.get_body(preferencelist=("plain",)).get_content()
            for url in re.findall(r"https?://\S+", body):
                if contains in url:
                    return url
        raise AssertionError(f"no link containing {contains!r} in {len(self.messages)} messages")


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; messages land in ``.messages``."""
    from aiosmtpd.controller import Controller

    server = SMTPServer("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, _server, _session, envelope):
            server.messages.append(envelope.original_content or envelope.content)
            return "250 Message accepted for delivery"

    class AnyPortController(Controller):
        # aiosmtpd checks the server by connecting to ``self.port``; with port 0 (any free
        # port) that is refused, so look up the port actually bound first.
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = AnyPortController(Handler(), hostname="127.0.0.1", port=0)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def mail_app(app, smtp_server):
    """The app, delivering to the test SMTP server."""
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER=smtp_server.host,
                      MAIL_PORT=smtp_server.port)
    return app


# --- live server for the browser --------------------------------------------------------

@pytest.fixture
def live_server(app, smtp_server):
    """The app served over HTTP on 127.0.0.1 with a background worker (a real Huey consumer
    in threads of this process), mail going to the test SMTP server, as in production."""
    from portal import tasks

    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER=smtp_server.host,
                      MAIL_PORT=smtp_server.port)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = server.url
    server.smtp = smtp_server
    worker = tasks.BackgroundConsumer(workers=2)
    try:
        with worker:
            yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args,
            "executable_path": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
