"""Background work (SPEC 6.4): the task queue, its tasks and its schedule.

This is the only module that imports Huey. The web process records what must happen in its
own transaction (an outbox row, a document waiting to be checked) and names the task that
will do it (``portal.background.after_commit``); once that transaction has committed, the
name comes here and the task goes on the queue. A worker process,
``flask worker``, runs the tasks and the periodic schedule inside an app context with the
same configuration as the web app. Tasks are thin: they call services, which claim their
rows with conditional updates, so a task that runs twice (two workers, a worker killed and
the task run again, a periodic tick and an enqueued task at once) does the work once.

The queue is ``SqliteHuey`` in ``instance/`` by default (``make run`` needs no server) and
``RedisHuey`` when ``TASK_QUEUE_URL=redis://…``, so that any number of workers on any number
of machines share it. Losing a queued task loses nothing: every periodic task also picks up
what is due in the database, so a Redis outage or a worker killed mid-task only delays the
work until the next tick.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from huey import Huey, crontab
from huey.storage import BlackHoleStorage, MemoryStorage, RedisStorage, SqliteStorage

from portal import background
from portal.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAME = "ims-portal"

# Configured by init_app(); until then nothing can be queued by accident.
huey = Huey(QUEUE_NAME, results=False, utc=True, storage_class=BlackHoleStorage)
_state: dict = {"app": None}
_queue_down = [False]  # set while the queue cannot be reached (logged once per outage)


# --- set-up -----------------------------------------------------------------------------

def make_storage(url: str, name: str = QUEUE_NAME, instance_path: str = "instance"):
    """The Huey storage for ``TASK_QUEUE_URL``: empty (SQLite in the instance folder),
    ``sqlite:///path``, ``redis://host:port/db`` or ``memory://`` (one process only)."""
    if not url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return SqliteStorage(name, filename=str(Path(instance_path) / "tasks.db"))
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        filename = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ""
        if not filename:
            raise ValueError(f"TASK_QUEUE_URL {url!r}: give a file, sqlite:///path/tasks.db")
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage(name, filename=filename)
    if scheme in ("redis", "rediss", "unix"):
        # Short timeouts: a Redis that hangs must not hold a web request for long (the
        # consumer's blocking read waits 1 s, within the socket's 5).
        from redis import ConnectionPool
        pool = ConnectionPool.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        return RedisStorage(name, connection_pool=pool)
    if scheme == "memory":
        return MemoryStorage(name)
    raise ValueError(f"TASK_QUEUE_URL {url!r}: use sqlite:///…, redis://… or memory://")


def init_app(app: Flask) -> None:
    """Point the queue at the configured storage and remember the app the tasks run in."""
    huey.storage = make_storage(app.config["TASK_QUEUE_URL"],
                                app.config.get("TASK_QUEUE_NAME") or QUEUE_NAME,
                                app.instance_path)
    _state["app"] = app
    background.set_dispatch(dispatch)


# --- enqueueing -------------------------------------------------------------------------

def dispatch(name: str, args: tuple) -> None:
    """A task asked for by name after a commit (portal.background)."""
    enqueue(_BY_NAME[name], *args)


def enqueue(task, *args) -> bool:
    """Put a task on the queue now. A queue that cannot be reached (Redis down) is logged
    once per outage, never raised: what the task would do is recorded in the database and
    the periodic schedule picks it up."""
    try:
        task(*args)
    except Exception:  # any storage error; the database has the work
        if not _queue_down[0]:
            log.exception("the task queue cannot be reached; the periodic schedule will "
                          "pick up the work")
        _queue_down[0] = True
        return False
    if _queue_down[0]:
        log.warning("the task queue is reachable again")
        _queue_down[0] = False
    return True


# --- running tasks ----------------------------------------------------------------------

def _in_app(func):
    """Run the task in an app context of the worker's app (a fresh one each time, so the
    session and ``g`` start empty and are cleaned up after)."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        app = _state["app"]
        if app is None:
            raise RuntimeError("portal.tasks.init_app() was not called in this process")
        with app.app_context():
            try:
                return func(*args, **kwargs)
            except Exception:
                db.session.rollback()
                raise
    return run


def task(**options):
    return lambda func: huey.task(name=func.__name__, **options)(_in_app(func))


def periodic(schedule, **options):
    return lambda func: huey.periodic_task(schedule, name=func.__name__,
                                           **options)(_in_app(func))


def run_pending(limit: int = 1000) -> int:
    """Run what is queued, here and now, until the queue is empty (for tests and the
    ``flask worker --once`` command). Returns how many tasks ran."""
    done = 0
    while done < limit:
        queued = huey.dequeue()
        if queued is None:
            break
        huey.execute(queued)
        done += 1
    return done


def consumer(workers: int = 2, periodic_tasks: bool = True, poll_seconds: float = 1.0):
    """A Huey consumer of threads (tasks mostly wait on the mail server and the database).
    SQLite storage is polled, at most ``poll_seconds`` apart; Redis blocks until work
    arrives."""
    return huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic_tasks,
                                initial_delay=0.05, backoff=1.5, max_delay=poll_seconds,
                                check_worker_health=True)


class BackgroundConsumer:
    """A consumer running in threads of this process, started and stopped by the caller
    (tests, and anything that embeds a worker)."""

    def __init__(self, workers: int = 2, periodic_tasks: bool = False):
        self.consumer = consumer(workers, periodic_tasks, poll_seconds=0.2)

    def __enter__(self):
        self.consumer.start()
        return self

    def __exit__(self, *exc):
        self.consumer.stop(graceful=True)
        for _worker, thread in self.consumer.worker_threads:
            thread.join(timeout=30)
        self.consumer.scheduler.join(timeout=5)
        return False


# --- the tasks --------------------------------------------------------------------------

@task()
def deliver_mail() -> None:
    """Send the outbox messages that are due (each claimed first; portal.mail)."""
    from portal import mail
    mail.deliver_due()


@periodic(crontab(minute="*"))
def retry_mail() -> None:
    """Every minute: messages whose retry time has come, and any whose task was lost."""
    from portal import mail
    mail.deliver_due()


@periodic(crontab(minute="*/5"))
def rating_reminders() -> None:
    """Remind patients of ratings overdue, close ratings past their window (each claimed
    with a conditional update, so several workers may run this at once)."""
    from portal.treatment import services as treatment
    treatment.send_reminders()


@periodic(crontab(minute="*/5"))
def follow_ups() -> None:
    """E-mail the follow-ups after discharge that are due, and their one reminder (each
    claimed with a conditional update, so several workers may run this at once)."""
    from portal.followups import services as followups
    followups.send_due()


@periodic(crontab(minute="*/15"))
def staff_digest() -> None:
    """The daily staff digest, once the clinic's day has reached DIGEST_TIME; a person gets
    one a clinic day however often this runs."""
    from portal.clinic import digest
    if digest.is_due():
        digest.send_digest()


@periodic(crontab(minute="17"))
def sweep_documents() -> None:
    """Finish what a stopped process left in the document storage (SPEC 3.2)."""
    from portal import storage
    counts = storage.sweep_documents()
    if any(counts.values()):
        log.info("document storage swept: %s", counts)


@periodic(crontab(minute="41"))
def sweep_sessions() -> None:
    """Every hour: forget the browser sessions past their expiry (portal.session_store)."""
    from portal import session_store
    count = session_store.sweep()
    if count:
        log.info("expired browser sessions deleted: %d", count)


@periodic(crontab(minute="23", hour="*/6"))
def list_records_for_disposal() -> None:
    """Four times a day (a missed tick costs nothing): list the records whose retention
    period has ended, for an admin to approve their disposal (SPEC 11.2)."""
    from portal.rights import retention
    count = retention.list_due()
    if count:
        log.info("records listed for disposal: %d", count)


@task()
def check_document(document_id: int) -> None:
    """Check an uploaded file and make it ready for review, or refuse it (SPEC 3.1); the
    document is claimed first, so a second run does nothing (portal.documents.checks)."""
    from portal.documents import checks
    checks.check(document_id)


@periodic(crontab(minute="*"))
def check_documents() -> None:
    """Every minute: uploads whose check was lost (the queue was down when they came, or a
    worker stopped mid-check and its claim expired)."""
    from portal.documents import checks
    checks.check_due()


# The tasks the portal asks for by name after a commit (portal.background).
_BY_NAME = {wrapper.name: wrapper for wrapper in (deliver_mail, check_document)}
