"""Configuration read from the environment.

Development runs with no environment at all (SQLite in ``instance/``, mail to the console).
Production (``PORTAL_ENV=production``) refuses to start without its secrets.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

# Development-only fallbacks. They are public (they are in this file), so production
# refuses them: see Config.check().
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{INSTANCE / 'portal.db'}"
    # Heroku-style URLs and plain postgresql:// both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def ratelimit_storage_options(uri: str) -> dict:
    """Short timeouts for a Redis rate-limit store: one that hangs (a machine gone from the
    network) must not hold a sign-in for the operating system's minutes-long wait."""
    if uri.partition(":")[0] in ("redis", "rediss", "redis+unix"):
        return {"socket_connect_timeout": 2, "socket_timeout": 2}
    return {}


def per_worker_refusal(config, workers: int) -> str | None:
    """Why production must not start ``workers`` web workers with this configuration, or
    None. A memory:// rate-limit store counts in each worker on its own, so with several
    workers every limit is that many times looser (SPEC 1.6, 8.7)."""
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if (workers <= 1 or not uri.startswith("memory://")
            or not config.get("RATELIMIT_ENABLED", True)
            or config.get("RATELIMIT_ALLOW_PER_WORKER")):
        return None
    return (f"RATELIMIT_STORAGE_URI is memory:// with {workers} web workers: each worker would "
            f"count sign-in attempts on its own, so every limit would be {workers} times "
            "looser. Point RATELIMIT_STORAGE_URI at Redis (redis://127.0.0.1:6379/0), run one "
            "worker (WEB_CONCURRENCY=1), or set RATELIMIT_ALLOW_PER_WORKER=1 to accept limits "
            "counted per worker.")


def _valid_time(value: str) -> bool:
    hours, _, minutes = value.partition(":")
    return (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and 0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59)


class Config:
    ENV_NAME = os.environ.get("PORTAL_ENV", "development")
    _PRODUCTION = ENV_NAME == "production"
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
    # Comma-separated Fernet keys, newest first; older keys keep old data readable.
    ENCRYPTION_KEYS = os.environ.get("ENCRYPTION_KEYS") or DEV_ENCRYPTION_KEY

    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    CLINIC_NAME = os.environ.get("CLINIC_NAME", "IMS Clinic")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    # Sessions (SPEC 1.4)
    SESSION_COOKIE_NAME = "portal_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", _PRODUCTION)
    IDLE_TIMEOUT_STAFF = timedelta(minutes=_int("IDLE_TIMEOUT_STAFF_MINUTES", 30))
    IDLE_TIMEOUT_PATIENT = timedelta(minutes=_int("IDLE_TIMEOUT_PATIENT_MINUTES", 60))
    SESSION_LIFETIME = timedelta(hours=_int("SESSION_LIFETIME_HOURS", 12))
    PERMANENT_SESSION_LIFETIME = SESSION_LIFETIME

    # Tokens (SPEC 1.2, 1.3)
    INVITATION_TTL = timedelta(days=7)
    RESET_TTL = timedelta(hours=1)
    CONFIRM_TTL = timedelta(days=2)

    # Brute force (SPEC 1.6)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_STORAGE_OPTIONS = ratelimit_storage_options(RATELIMIT_STORAGE_URI)
    # A store that cannot be reached (Redis down) does not stop sign-in: Flask-Limiter
    # counts in this process's memory, with the same limits, until the store answers again
    # (it checks now and then), and any other error of the limiter is logged, not raised.
    # The outage is logged once (portal.extensions).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # gunicorn's number of web workers (its own default is 1; deploy/gunicorn.conf.py's is 2
    # and it checks the number it really starts). Production refuses memory:// with more
    # than one (per_worker_refusal) unless RATELIMIT_ALLOW_PER_WORKER is set.
    WEB_CONCURRENCY = _int("WEB_CONCURRENCY", 1)
    RATELIMIT_ALLOW_PER_WORKER = _bool("RATELIMIT_ALLOW_PER_WORKER", False)
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "30 per minute;300 per hour")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "10 per minute;50 per hour")
    LOCKOUT_THRESHOLD = _int("LOCKOUT_THRESHOLD", 5)

    # Mail (SPEC 6)
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp" if _PRODUCTION else "console")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    MAIL_FROM = os.environ.get("MAIL_FROM", "IMS Clinic <no-reply@clinic.example>")
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR", str(INSTANCE / "outbox"))
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 8)

    # Background work (SPEC 6.4): the Huey task queue. Empty: SQLite in instance/tasks.db
    # (one machine, no server); redis://host:port/db when several workers run.
    TASK_QUEUE_URL = os.environ.get("TASK_QUEUE_URL", "")
    TASK_QUEUE_NAME = os.environ.get("TASK_QUEUE_NAME", "ims-portal")
    TASK_WORKERS = _int("TASK_WORKERS", 2)
    # The daily staff digest goes out once the clinic's day reaches this time (HH:MM, the
    # clinic's time zone).
    DIGEST_TIME = os.environ.get("DIGEST_TIME", "07:30")

    # Languages (SPEC 8.1)
    LANGUAGES = {"en": "English", "fr_CA": "Français"}
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "portal" / "translations")

    # Reverse proxy: number of proxies to trust for X-Forwarded-* (0 = none).
    PROXY_FIX_X_FOR = _int("PROXY_FIX_X_FOR", 0)
    PROXY_FIX_X_PROTO = _int("PROXY_FIX_X_PROTO", 0)
    PROXY_FIX_X_HOST = _int("PROXY_FIX_X_HOST", 0)

    WTF_CSRF_TIME_LIMIT = 3600 * 12
    WTF_CSRF_SSL_STRICT = True

    # Documents (SPEC 3): where the encrypted files live, and how big an upload may be.
    DOCUMENT_STORAGE = os.environ.get("DOCUMENT_STORAGE", "database")  # or "directory"
    DOCUMENT_DIR = os.environ.get("DOCUMENT_DIR", str(INSTANCE / "documents"))
    DOCUMENT_MAX_BYTES = _int("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
    DOCUMENT_MAX_FILES = _int("DOCUMENT_MAX_FILES", 5)
    # Larger images are refused as decompression bombs before they are decoded.
    DOCUMENT_MAX_PIXELS = _int("DOCUMENT_MAX_PIXELS", 50_000_000)
    # The whole request: a full upload of DOCUMENT_MAX_FILES files must always fit.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", max(
        64 * 1024 * 1024, DOCUMENT_MAX_FILES * DOCUMENT_MAX_BYTES + 1024 * 1024))

    # Rating a session (SPEC 4.2): it opens RATING_OPENS_HOURS after the session (its first
    # question is the average pain over the past 24 hours: CLINICAL.md, "What the follow-up
    # score asks"), a reminder goes RATING_REMINDER_HOURS after it opens, it closes
    # RATING_WINDOW_DAYS after the session, and a rating can be changed for RATING_EDIT_HOURS.
    RATING_OPENS_AFTER = timedelta(hours=_int("RATING_OPENS_HOURS", 24))
    RATING_REMINDER_AFTER = timedelta(hours=_int("RATING_REMINDER_HOURS", 24))
    RATING_WINDOW = timedelta(days=_int("RATING_WINDOW_DAYS", 7))
    RATING_EDIT_WINDOW = timedelta(hours=_int("RATING_EDIT_HOURS", 24))

    # The safety check after a session (SPEC 4.2), and "I have a problem after my session",
    # stay open this many days after the session. A "yes" is e-mailed to every active
    # member of staff, or only to CLINIC_ALERT_EMAIL when it is set (SPEC 5.1).
    SAFETY_CHECK_DAYS = _int("SAFETY_CHECK_DAYS", 7)
    CLINIC_ALERT_EMAIL = os.environ.get("CLINIC_ALERT_EMAIL", "")

    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "IMS Patient Portal")

    # The worklist (SPEC 5.1): each section checks for changes every this many seconds, and
    # lists at most this many lines ("and N more" after them).
    WORKLIST_REFRESH_SECONDS = _int("WORKLIST_REFRESH_SECONDS", 45)
    WORKLIST_LIST_SIZE = _int("WORKLIST_LIST_SIZE", 10)

    @classmethod
    def check(cls, config) -> None:
        """Refuse a malformed schedule, and development secrets in production."""
        digest = str(config.get("DIGEST_TIME", "07:30"))
        if not _valid_time(digest):
            raise RuntimeError(f"DIGEST_TIME must be HH:MM in the clinic's time zone, "
                               f"not {digest!r}")
        if config.get("ENV_NAME") != "production":
            return
        problems = []
        if config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
            problems.append("SECRET_KEY")
        if config.get("ENCRYPTION_KEYS") in (None, "", DEV_ENCRYPTION_KEY):
            problems.append("ENCRYPTION_KEYS")
        if problems:
            raise RuntimeError(
                "Production needs these set in the environment: " + ", ".join(problems)
            )
        refusal = per_worker_refusal(config, int(config.get("WEB_CONCURRENCY") or 1))
        if refusal:
            raise RuntimeError(refusal)


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    ENCRYPTION_KEYS = DEV_ENCRYPTION_KEY
    SQLALCHEMY_DATABASE_URI = "sqlite://"  # the tests give each test its own database
    SESSION_COOKIE_SECURE = False
    MAIL_BACKEND = "smtp"
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 1  # the tests point this at their own SMTP server
    MAIL_TIMEOUT = 3
    TASK_QUEUE_URL = "memory://"  # the tests give each app its own queue
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_STORAGE_OPTIONS: dict = {}
    BASE_URL = "http://localhost"
    SERVER_NAME = None
