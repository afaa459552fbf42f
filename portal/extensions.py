"""Unbound extension singletons; create_app() binds them."""
import logging
import sys

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from portal.htmx import htmx

# Named constraints so that migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

log = logging.getLogger("portal.ratelimit")


class _LimiterLog(logging.Filter):
    """What Flask-Limiter (4.1) logs, made ours. It warns once when its store stops
    answering and it starts counting in memory (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED), notes
    at info level when the store answers again, and logs nothing in between: those two
    lines become one error with its cause and a warning, as the task queue's outage is
    logged (portal.tasks). Its note of each limit reached names the key, which for the
    per-account limit is the address typed: not logged (SPEC 1.5)."""

    DOWN = "Rate limit storage unreachable"
    BACK = "Rate limit storage recovered"
    REACHED = "ratelimit "

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.REACHED):
            return False
        message = record.getMessage()
        if message.startswith(self.DOWN):
            # Logged from inside Flask-Limiter's except block: the exception is the cause.
            log.error("the rate-limit store cannot be reached; sign-in attempts are counted "
                      "in this process's memory until it answers again",
                      exc_info=sys.exc_info()[0] is not None)
            return False
        if message.startswith(self.BACK):
            log.warning("the rate-limit store answers again; sign-in attempts are counted "
                        "there again")
            return False
        return True


_limiter_log = logging.getLogger("flask-limiter")
_limiter_log.addFilter(_LimiterLog())
_limiter_log.setLevel(logging.INFO)  # so that the store's return reaches the filter

__all__ = ["babel", "csrf", "db", "htmx", "limiter", "login_manager", "migrate"]
