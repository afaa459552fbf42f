"""``make bench`` (uploads): the peak memory of a web worker and of the task worker while
patients upload documents (issue 11).

Targets: a web worker stays under 150 MB resident with 20 patients each sending 5 photos of
9 MB at once; the task worker stays under 300 MB on a 49-megapixel image.

    python bench/uploads.py [--backend sqlite|postgresql ...] [--clients 20] [--files 5]
                            [--megabytes 9]

For each backend:

1. A fresh database, migrated, with ``--clients`` patients who can sign in (a known
   password, e-mail confirmed, no second factor). SQLite: ``instance/bench/uploads-sqlite/
   portal.db``; PostgreSQL: ``BENCH_DATABASE_URL`` + ``_uploads`` (default: database
   ``ims_portal_bench_uploads`` on the local server), dropped and created again.
2. The production set-up on this machine: gunicorn (2 sync workers, ``app:app``) and one
   ``flask worker``, configured only by the environment (``PORTAL_ENV=production``, fresh
   secrets, documents stored in the database). The task queue is SQLite in the run's
   folder for the SQLite run, Redis (``BENCH_REDIS_URL``, default database 14 of the local
   server, a queue name of its own, removed after) for the PostgreSQL one.
3. Scenario "photos": every patient signs in, opens their documents page, and then all of
   them at once post one upload of ``--files`` JPEG photos of ``--megabytes`` MB each
   (12 megapixels, 4000 x 3000, made here with noise and gradients at quality 95; each
   file made distinct by a few bytes after the JPEG's end, which decoders ignore). The body
   is streamed from shared buffers, so the client holds no copy per upload.
4. Scenario "49-megapixel scan": the task worker and gunicorn are started again (so their
   peaks are their own) and one patient uploads a 7000 x 7000 RGB PNG (49 megapixels,
   under ``DOCUMENT_MAX_PIXELS``; gradients, so the file is small).

During each scenario the resident memory of every gunicorn worker (every child of the
master, restarted ones included) and of the task worker is read every 50 ms, and each
process's own peak (``VmHWM``) is read before it is stopped; a process's figure is the
larger of the two. After the uploads are answered the bench waits until no document is
left "checking" (the worker checks uploads after the request), and reports how long that
took and how many documents ended ready ("pending", waiting for review) or refused. On a
schema without the "checking" status (uploads checked in their request) it waits for the
worker's queue to empty instead, and the report says so. Both targets apply to both
scenarios.

``make bench`` runs this once per backend after ``bench/run.py`` (about a minute and a half
each on a 2-core machine). The report is a Markdown table with notes under it, on standard
output; progress goes to standard error. MB here are MiB (1,048,576 bytes), as in the
portal's own "10 MB" upload limit. The servers' logs stay in
``instance/bench/uploads-<backend>/`` until the next run.
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DIR = ROOT / "instance" / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
REDIS_DEFAULT = "redis://127.0.0.1:6379/14"
TARGET_WEB_MB = 150
TARGET_TASK_MB = 300
MIB = 1024 * 1024
PASSWORD = "bench-uploads-password-2026"
SAMPLE_SECONDS = 0.05
CHECK_TIMEOUT = 300
START_TIMEOUT = 30
_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def log(message: str) -> None:
    print(f"[uploads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database -----------------------------------------------------------------------

def database_url(backend: str, run_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{run_dir / 'portal.db'}"
    from bench.run import postgresql_url
    return postgresql_url("uploads")


def _recreate_postgresql_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def prepare_database(backend: str, url: str, run_dir: Path, clients: int,
                     secrets: dict[str, str]) -> list[str]:
    """Migrate a fresh database and add the patients; returns their e-mail addresses."""
    if backend == "postgresql":
        _recreate_postgresql_database(url)
    from flask_migrate import upgrade

    from portal import clock, create_app, passwords
    from portal.extensions import db
    from portal.models import Patient, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TASK_QUEUE_URL": "memory://",
                      "MAIL_BACKEND": "console", "MAIL_OUTBOX_DIR": str(run_dir / "outbox"),
                      "RATELIMIT_ENABLED": False, **secrets})
    app.instance_path = str(run_dir)
    emails = [f"bench-patient-{n:03d}@example.org" for n in range(1, clients + 1)]
    with app.app_context():
        upgrade()
        password_hash = passwords.hash_password(PASSWORD)
        now = clock.now()
        for n, email in enumerate(emails, start=1):
            user = User(email=email, name=f"Bench Patient {n}", role="patient",
                        password_hash=password_hash, locale="en", active=True,
                        created_at=now, email_confirmed_at=now)
            db.session.add(user)
            db.session.add(Patient(user=user, status="intake_in_progress", created_at=now))
        db.session.commit()
        db.engine.dispose()
    return emails


class DocumentCounts:
    """Documents by status, read with plain SQL from the bench's own connection."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        self.engine = create_engine(url)

    def get(self) -> dict[str, int] | None:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text("SELECT status, count(*) FROM documents "
                                         "GROUP BY status")).all()
        except OperationalError:  # SQLite busy for a moment: ask again next time
            return None
        return dict(rows)

    def worker_checks(self) -> bool:
        """Whether this schema has documents checked by the worker (issue 11's change)."""
        from sqlalchemy import inspect
        return "original_key" in {c["name"] for c in inspect(self.engine).get_columns("documents")}

    def close(self) -> None:
        self.engine.dispose()


# --- the files ----------------------------------------------------------------------------

def photos(count: int, megabytes: float) -> list[bytes]:
    """``count`` different 12-megapixel JPEGs of about ``megabytes`` MB each: gradients
    under Gaussian noise (like a phone photo's sensor noise and detail), quality 95, 4:2:0.
    The noise is made once; the photos differ by how it is turned and which gradient each
    colour gets. The amount of noise is tuned on the first photo to reach the size."""
    from PIL import Image

    size = (4000, 3000)
    transpose = Image.Transpose
    noise = Image.effect_noise(size, 64)
    flips = [noise, noise.transpose(transpose.FLIP_LEFT_RIGHT),
             noise.transpose(transpose.FLIP_TOP_BOTTOM), noise.transpose(transpose.ROTATE_180)]
    linear = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    gradients = [linear, radial, linear.transpose(transpose.ROTATE_180),
                 radial.transpose(transpose.FLIP_LEFT_RIGHT).point(lambda v: 255 - v)]

    def encode(index: int, amount: float) -> bytes:
        channels = [Image.blend(gradients[(index + c) % len(gradients)],
                                flips[(index + 2 * c + index // 4) % len(flips)], amount)
                    for c in range(3)]
        buffer = io.BytesIO()
        Image.merge("RGB", channels).save(buffer, "JPEG", quality=95)
        return buffer.getvalue()

    wanted = megabytes * MIB
    low, high, amount = 0.02, 1.0, 0.5
    best = encode(0, amount)
    for _ in range(8):
        if abs(len(best) - wanted) < 0.02 * wanted:
            break
        if len(best) > wanted:
            high = amount
        else:
            low = amount
        amount = (low + high) / 2
        best = encode(0, amount)
    return [best] + [encode(i, amount) for i in range(1, count)]


def scan_png(side: int = 7000) -> bytes:
    """A ``side`` x ``side`` RGB PNG of gradients: a legitimate 49-megapixel image whose
    file is small (decoding it still takes every pixel)."""
    from PIL import Image

    size = (side, side)
    linear = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (linear, radial, linear.transpose(Image.Transpose.ROTATE_90)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


# --- the servers --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(url: str, run_dir: Path, backend: str, secrets: dict[str, str]
                ) -> tuple[dict[str, str], str, str]:
    """The production-like environment of gunicorn and the worker, and the task queue's
    URL and name."""
    ours = ("FLASK_", "PORTAL_", "DATABASE_", "SECRET_", "ENCRYPTION_", "TASK_", "MAIL_",
            "DOCUMENT_", "RATELIMIT_", "SESSION_", "MAX_CONTENT", "BASE_URL", "PROXY_FIX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    if backend == "sqlite":
        queue_url, queue_name = f"sqlite:///{run_dir / 'tasks.db'}", "ims-portal"
    else:
        queue_url = os.environ.get("BENCH_REDIS_URL") or REDIS_DEFAULT
        queue_name = f"ims-portal-bench-{uuid.uuid4().hex[:12]}"
    env.update(PORTAL_ENV="production", DATABASE_URL=url, TASK_QUEUE_URL=queue_url,
               TASK_QUEUE_NAME=queue_name, MAIL_BACKEND="console",
               MAIL_OUTBOX_DIR=str(run_dir / "outbox"), RATELIMIT_ENABLED="false",
               SESSION_COOKIE_SECURE="false", FLASK_APP="app:app", FLASK_SKIP_DOTENV="1",
               PYTHONUNBUFFERED="1", **secrets)
    return env, queue_url, queue_name


class Server:
    """A process of ours with its log file; stopped with ``stop_signal`` then killed."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path,
                 stop_signal: int):
        self.name, self.log_path, self.stop_signal = name, log_path, stop_signal
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_gunicorn(env: dict[str, str], run_dir: Path) -> tuple[Server, int]:
    port = _free_port()
    server = Server("gunicorn", [str(VENV_BIN / "gunicorn"), "-w", "2", "--timeout", "120",
                                 "-b", f"127.0.0.1:{port}", "app:app"],
                    env, run_dir / "gunicorn.log", signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not server.alive():
            raise SystemExit(f"gunicorn exited early:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200 and len(children(server.pid)) >= 2:
                conn.close()
                return server, port
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"gunicorn did not answer in {START_TIMEOUT} s:\n{server.log_tail()}")


def start_worker(env: dict[str, str], run_dir: Path) -> Server:
    server = Server("worker", [str(VENV_BIN / "flask"), "worker"], env,
                    run_dir / "worker.log", signal.SIGINT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # until the consumer says it runs
        if not server.alive():
            raise SystemExit(f"the worker exited early:\n{server.log_tail()}")
        if "consumer started" in server.log_path.read_text(errors="replace").lower():
            return server
        time.sleep(0.2)
    log("the worker did not say it started; going on")
    return server


# --- memory -----------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _status_mb(pid: int, field_name: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class MemorySampler(threading.Thread):
    """Every 50 ms, the resident memory of the gunicorn workers (the master's children)
    and of the task worker (and any child of it); each process's peak."""

    def __init__(self, gunicorn_pid: int, worker_pid: int):
        super().__init__(daemon=True)
        self.groups = {"web": lambda: children(gunicorn_pid),
                       "task": lambda: [worker_pid, *children(worker_pid)]}
        self.peaks: dict[str, dict[int, float]] = {"web": {}, "task": {}}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        for group, pids in self.groups.items():
            for pid in pids():
                rss = _status_mb(pid, "VmRSS")
                if rss is not None:
                    peaks = self.peaks[group]
                    peaks[pid] = max(peaks.get(pid, 0.0), rss)

    def finish(self) -> dict[str, dict[int, float]]:
        """Stop sampling and fold in each living process's own peak (VmHWM). Call while
        the processes still run."""
        self._stop_event.set()
        self.join(timeout=5)
        self.sample()
        for peaks in self.peaks.values():
            for pid in peaks:
                hwm = _status_mb(pid, "VmHWM")
                if hwm is not None:
                    peaks[pid] = max(peaks[pid], hwm)
        return self.peaks


# --- the client ---------------------------------------------------------------------------

@dataclass
class Part:
    """A file of a multipart upload: shared content plus a few bytes of its own."""
    name: str
    content_type: str
    content: bytes
    suffix: bytes = b""

    def __len__(self) -> int:
        return len(self.content) + len(self.suffix)


@dataclass
class Answer:
    status: int | str
    seconds: float
    started: float = 0.0
    detail: str = ""


class Client:
    """One browser: a cookie jar and plain HTTP/1.1 requests (a connection each, as
    gunicorn's sync workers close them)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep_cookies(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if not value or "max-age=0" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers={**self._headers(), **(headers or {})})
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            self._keep_cookies(response)
            return response.status, response.getheader("Location") or "", text
        finally:
            conn.close()

    def token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        match = _TOKEN.search(page)
        if status != 200 or not match:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        return match.group(1)

    def sign_in(self, email: str) -> str:
        """Sign in and return the CSRF token of the documents page."""
        token = self.token("/auth/login")
        body = urllib.parse.urlencode({"csrf_token": token, "email": email,
                                       "password": PASSWORD}).encode()
        status, _location, _ = self.request(
            "POST", "/auth/login", body,
            {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise RuntimeError(f"sign-in of {email}: {status}")
        return self.token("/me/documents/")

    def upload(self, token: str, kind: str, parts: list[Part]) -> Answer:
        """POST the files as one multipart body, streamed in 1 MiB pieces."""
        boundary = "----bench" + uuid.uuid4().hex
        pieces: list[bytes | memoryview] = []
        for name, value in (("csrf_token", token), ("kind", kind)):
            pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                          f"\r\n\r\n{value}\r\n".encode())
        for part in parts:
            pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                          f'filename="{part.name}"\r\nContent-Type: {part.content_type}'
                          "\r\n\r\n".encode())
            view = memoryview(part.content)
            pieces += [view[i:i + MIB] for i in range(0, len(view), MIB)]
            pieces.append(part.suffix + b"\r\n")
        pieces.append(f"--{boundary}--\r\n".encode())
        started = time.perf_counter()
        conn = self._connection()
        try:
            conn.putrequest("POST", "/me/documents/upload")
            for key, value in {**self._headers(),
                               "Content-Type": f"multipart/form-data; boundary={boundary}",
                               "Content-Length": str(sum(len(p) for p in pieces))}.items():
                conn.putheader(key, value)
            conn.endheaders()
            for piece in pieces:
                conn.send(piece)
            response = conn.getresponse()
            page = response.read().decode("utf-8", "replace")
            self._keep_cookies(response)
            status = response.status
        except OSError as exc:
            return Answer(type(exc).__name__, time.perf_counter() - started, started)
        finally:
            conn.close()
        detail = ""
        if status != 303:
            errors = re.findall(r'class="[^"]*(?:error|invalid)[^"]*"[^>]*>([^<]{3,200})<', page)
            detail = "; ".join(dict.fromkeys(e.strip() for e in errors))[:300]
        return Answer(status, time.perf_counter() - started, started, detail)


# --- a scenario ---------------------------------------------------------------------------

@dataclass
class Outcome:
    scenario: str
    files: str
    answers: list[Answer] = field(default_factory=list)
    web_peaks: dict[int, float] = field(default_factory=dict)
    task_peaks: dict[int, float] = field(default_factory=dict)
    check_mode: str = ""
    check_seconds: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    sign_in_failures: int = 0


def _queue_size(queue_url: str, queue_name: str) -> int | None:
    from portal.tasks import make_storage
    try:
        return make_storage(queue_url, queue_name).queue_size()
    except Exception:  # not knowable: the caller falls back to its timeout
        return None


def run_uploads(port: int, emails: list[str], uploads: list[tuple[str, list[Part]]],
                counts: DocumentCounts, seen: dict[str, int]) -> tuple[list[Answer], int]:
    """Sign every client in, then post every upload at once (one per client)."""
    clients = [Client(port) for _ in uploads]
    tokens: list[str | None] = [None] * len(uploads)
    answers: list[Answer | None] = [None] * len(uploads)
    ready = threading.Barrier(len(uploads) + 1)

    def one(index: int) -> None:
        try:
            tokens[index] = clients[index].sign_in(emails[index])
        except Exception as exc:  # counted and reported
            log(f"client {index + 1}: {exc}")
        try:
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            return
        if tokens[index] is None:
            return
        kind, parts = uploads[index]
        answers[index] = clients[index].upload(tokens[index], kind, parts)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    ready.wait(timeout=300)
    while any(thread.is_alive() for thread in threads):
        found = counts.get()  # "checking" seen while the uploads are still being answered
        if found and found.get("checking"):
            seen["checking"] = max(seen.get("checking", 0), found["checking"])
        time.sleep(0.25)
    return [a for a in answers if a is not None], sum(t is None for t in tokens)


def wait_for_checks(counts: DocumentCounts, queue_url: str, queue_name: str,
                    seen: dict[str, int]) -> tuple[str, float | None, dict[str, int]]:
    """Until no document is "checking". Returns how the uploads were checked ("worker";
    "request": the schema has no "checking" yet; "unseen": it has, but no document was
    seen in it), the seconds waited, and the documents by status. Without a "checking"
    document to wait for, waits for the worker's queue to empty."""
    schema_has_checks = counts.worker_checks()
    began = time.perf_counter()
    statuses: dict[str, int] = {}
    while time.perf_counter() - began < CHECK_TIMEOUT:
        found = counts.get()
        if found is not None:
            statuses = found
            if found.get("checking"):
                seen["checking"] = max(seen.get("checking", 0), found["checking"])
            elif _queue_size(queue_url, queue_name) == 0 or seen.get("checking"):
                mode = ("worker" if seen.get("checking")
                        else "unseen" if schema_has_checks else "request")
                return mode, time.perf_counter() - began, statuses
        time.sleep(0.25)
    mode = "worker" if seen.get("checking") else "unseen" if schema_has_checks else "request"
    return mode, None, statuses


def scenario(name: str, files_label: str, env: dict[str, str], run_dir: Path, url: str,
             queue: tuple[str, str], emails: list[str],
             uploads: list[tuple[str, list[Part]]]) -> Outcome:
    """Fresh gunicorn and worker, the uploads at once, the checks; memory all along."""
    outcome = Outcome(name, files_label)
    gunicorn = worker = sampler = None
    counts = DocumentCounts(url)
    try:
        gunicorn, port = start_gunicorn(env, run_dir)
        worker = start_worker(env, run_dir)
        sampler = MemorySampler(gunicorn.pid, worker.pid)
        sampler.start()
        seen: dict[str, int] = {}
        before = None
        while before is None:
            before = counts.get()
        log(f"{name}: {len(uploads)} uploads at once")
        outcome.answers, outcome.sign_in_failures = run_uploads(port, emails, uploads,
                                                                counts, seen)
        log(f"{name}: answered; waiting for the checks")
        outcome.check_mode, outcome.check_seconds, after = wait_for_checks(counts, *queue, seen)
        # This scenario's documents only (earlier ones keep their status: nobody reviews).
        outcome.statuses = {status: n - before.get(status, 0) for status, n in after.items()
                            if n - before.get(status, 0)}
        peaks = sampler.finish()
        sampler = None
        outcome.web_peaks, outcome.task_peaks = peaks["web"], peaks["task"]
    finally:
        if sampler is not None:
            sampler.finish()
        for server in (worker, gunicorn):
            if server is not None:
                server.stop()
        counts.close()
    return outcome


# --- the report ---------------------------------------------------------------------------

def _mb(peaks: dict[int, float]) -> str:
    if not peaks:
        return "–"
    text = f"{max(peaks.values()):.0f}"
    return text + (f" ({len(peaks)} processes)" if len(peaks) > 2 else "")


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _row(backend: str, outcome: Outcome) -> str:
    answers = outcome.answers
    codes: dict[str, int] = {}
    for answer in answers:
        codes[str(answer.status)] = codes.get(str(answer.status), 0) + 1
    answered = ", ".join(f"{n} × {code}" for code, n in sorted(codes.items())) or "none"
    if outcome.sign_in_failures:
        answered += f"; {outcome.sign_in_failures} could not sign in"
    times = sorted(a.seconds for a in answers)
    timing = (f"{_seconds(statistics.median(times))} / {_seconds(times[-1])}" if times else "–")
    if outcome.check_seconds is None:
        check = f"over {CHECK_TIMEOUT} ({outcome.check_mode})"
    elif outcome.check_mode == "request":
        check = "in the request"
    else:
        check = _seconds(outcome.check_seconds)
    ready = sum(outcome.statuses.get(s, 0) for s in ("pending", "accepted", "rejected"))
    refused = outcome.statuses.get("refused", 0)
    checking = outcome.statuses.get("checking", 0)
    documents = f"{ready} / {refused}" + (f" ({checking} still checking)" if checking else "")
    web = max(outcome.web_peaks.values(), default=0.0)
    task = max(outcome.task_peaks.values(), default=0.0)
    problems = []
    if web >= TARGET_WEB_MB:
        problems.append(f"web worker over by {web - TARGET_WEB_MB:.0f} MB")
    if task >= TARGET_TASK_MB:
        problems.append(f"task worker over by {task - TARGET_TASK_MB:.0f} MB")
    failed = len(answers) - codes.get("303", 0) + outcome.sign_in_failures
    if failed:
        problems.append(f"{failed} uploads not taken")
    if refused:
        problems.append(f"{refused} documents refused")
    if outcome.check_seconds is None:
        problems.append("checks unfinished")
    verdict = "ok" if not problems else "; ".join(problems)
    return (f"| {backend} | {outcome.scenario} | {outcome.files} | {_mb(outcome.web_peaks)} "
            f"| {_mb(outcome.task_peaks)} | {answered} | {timing} | {check} | {documents} "
            f"| web < {TARGET_WEB_MB}, task < {TARGET_TASK_MB} | {verdict} |")


def report(runs: list[tuple[str, list[Outcome]]], notes: list[str]) -> str:
    lines = ["# Benchmark: memory during uploads (issue 11)", "",
             f"Targets: a web worker under {TARGET_WEB_MB} MB resident, the task worker under "
             f"{TARGET_TASK_MB} MB (peaks, MiB). gunicorn with 2 sync workers and one "
             "`flask worker`, production settings. An upload's answer time runs from its "
             "first byte sent to the answer, waiting for a free web worker included.", "",
             "| backend | scenario | files | web worker peak RSS, MB | task worker peak RSS, "
             "MB | uploads answered | answer time median / max, s | checks done, s after "
             "the last answer | documents ready / refused | targets, MB | verdict |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |"]
    for backend, outcomes in runs:
        lines += [_row(backend, outcome) for outcome in outcomes]
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------

def bench(backend: str, clients: int, files: int, jpegs: list[bytes], png: bytes,
          notes: list[str]) -> list[Outcome]:
    from cryptography.fernet import Fernet

    run_dir = BENCH_DIR / f"uploads-{backend}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    secrets = {"SECRET_KEY": "bench-uploads-" + uuid.uuid4().hex,
               "ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    url = database_url(backend, run_dir)
    log(f"{backend}: fresh database, {clients} patients")
    emails = prepare_database(backend, url, run_dir, clients, secrets)
    env, queue_url, queue_name = environment(url, run_dir, backend, secrets)
    try:
        # Scenario 1: every patient posts --files photos at once.
        kinds = ("clearance", "other")
        uploads = []
        for c in range(clients):
            parts = [Part(f"IMG_{c + 1:02d}{f + 1:02d}.jpg", "image/jpeg", jpegs[f % len(jpegs)],
                          f"\n{c}-{f}-{uuid.uuid4().hex}".encode())
                     for f in range(files)]
            uploads.append((kinds[c % 2], parts))
        size = sum(len(j) for j in jpegs) / len(jpegs) / MIB
        photos_outcome = scenario(
            "photos", f"{clients} × {files} JPEG, 12 MP, {size:.1f} MB", env, run_dir, url,
            (queue_url, queue_name), emails, uploads)
        # Scenario 2: a fresh worker (and gunicorn), one 49-megapixel PNG.
        scan = [("other", [Part("scan-49mp.png", "image/png", png)])]
        scan_outcome = scenario(
            "49-megapixel scan", f"1 PNG, 7000 × 7000 RGB, {len(png) / MIB:.1f} MB", env,
            run_dir, url, (queue_url, queue_name), emails[:1], scan)
    finally:
        if backend == "postgresql":
            try:
                from portal.tasks import make_storage
                make_storage(queue_url, queue_name).flush_all()
            except Exception as exc:  # a leftover queue is only noted
                log(f"could not remove the Redis queue {queue_name}: {exc}")
    outcomes = [photos_outcome, scan_outcome]
    for outcome in outcomes:
        if outcome.check_mode == "request":
            notes.append(f"{backend}, {outcome.scenario}: this schema has no \"checking\" "
                         "status (documents checked by the worker have not landed): the "
                         "uploads were checked in their request; the bench waited for the "
                         "worker's queue to empty instead.")
        elif outcome.check_mode == "unseen":
            notes.append(f"{backend}, {outcome.scenario}: no document was seen \"checking\" "
                         "(polled every 0.25 s): checked that fast, or still in the request; "
                         "the bench waited for the worker's queue to empty.")
        if len(outcome.web_peaks) > 2:
            notes.append(f"{backend}, {outcome.scenario}: {len(outcome.web_peaks)} web worker "
                         "processes seen (gunicorn restarted some).")
        problems = [a for a in outcome.answers if a.status != 303]
        for answer in problems[:3]:
            notes.append(f"{backend}, {outcome.scenario}: an upload answered {answer.status} "
                         f"after {answer.seconds:.1f} s" + (f": {answer.detail}"
                                                            if answer.detail else ""))
    notes.append(f"{backend}: servers' logs in instance/bench/uploads-{backend}/.")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Peak memory of a web worker and of the task worker during uploads "
                    "(issue 11); a Markdown report on standard output.")
    parser.add_argument("--backend", nargs="+", default=["sqlite"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--clients", type=int, default=20, help="patients uploading at once")
    parser.add_argument("--files", type=int, default=5, help="photos in each upload")
    parser.add_argument("--megabytes", type=float, default=9.0, help="size of each photo (MiB)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.files < 1 or args.megabytes <= 0:
        parser.error("--clients, --files and --megabytes must be positive")

    started = time.perf_counter()
    log(f"making {args.files} photos of {args.megabytes:g} MB and a 49-megapixel PNG")
    jpegs = photos(args.files, args.megabytes)
    png = scan_png()
    log(f"files made in {time.perf_counter() - started:.1f} s")
    runs, notes = [], []
    for backend in args.backend:
        began = time.perf_counter()
        runs.append((backend, bench(backend, args.clients, args.files, jpegs, png, notes)))
        log(f"{backend}: done in {time.perf_counter() - began:.0f} s")
    print(report(runs, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
