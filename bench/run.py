"""``make bench``: the staff pages at 1,000, 10,000 and 100,000 patients, on PostgreSQL and
SQLite (SPEC 8.5).

For each size and database: migrate, seed the demo clinic plus generated patients once (``flask
seed-demo --patients N``; a database that already has them is reused), then, in a fresh
process that plays one worker, sign in as a practitioner and time each page: the worklist,
the patient list, searches by name, phone and date of birth, both pain-change orders,
second pages by cursor, a patient's chart and the outcomes page. Each page is asked
``--requests`` times, or fewer (at least 5) once it has taken ``--budget`` seconds. Server
time is the time the application takes to answer (Flask's test client in the worker's process: no
network, no browser); the worker's resident memory is read after the requests.

Targets (SPEC 8.5): under 50 ms server time, a worker under 150 MB resident.

    python bench/run.py [--sizes 1000 10000 100000] [--requests 50] [--budget 5]
                        [--backend postgresql sqlite]

Databases, one per size N: PostgreSQL ``BENCH_DATABASE_URL`` + ``_N`` (default: database
``ims_portal_bench_N`` on the local server, created when missing); SQLite
``instance/bench/portal-bench-N.db``. The report (Markdown) goes to standard output.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DIR = ROOT / "instance" / "bench"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/ims_portal_bench"
TARGET_MS = 50
TARGET_RSS_MB = 150
STAFF_EMAIL = "dr.lee@example.com"


def postgresql_url(suffix: str) -> str:
    """``BENCH_DATABASE_URL`` (or the local default) + ``_suffix``, for psycopg 3."""
    url = os.environ.get("BENCH_DATABASE_URL") or PG_DEFAULT
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return f"{url}_{suffix}"


def database_url(backend: str, size: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{BENCH_DIR / f'portal-bench-{size}.db'}"
    return postgresql_url(str(size))


def _app(url: str, backend: str):
    from portal import create_app

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_BACKEND": "console",
                      "MAIL_OUTBOX_DIR": str(BENCH_DIR / "outbox"),
                      # Nothing is delivered here: tasks stay in this process.
                      "TASK_QUEUE_URL": "memory://",
                      "RATELIMIT_ENABLED": False})
    # seed-demo writes demo-accounts.txt here, not over the developer's instance/ file.
    app.instance_path = str(BENCH_DIR / backend)
    return app


def _create_postgresql_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                             {"n": target.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


# --- seeding (its own process) ---------------------------------------------------------

def seed(backend: str, patients: int) -> None:
    url = database_url(backend, patients)
    if backend == "postgresql":
        _create_postgresql_database(url)
    app = _app(url, backend)
    from flask_migrate import upgrade

    from portal.demo import bulk as bulk_demo
    with app.app_context():
        upgrade()
        have = bulk_demo.next_number()
    missing = patients - have
    if missing <= 0:
        print(f"{backend}: {have} generated patients already there", file=sys.stderr)
        return
    print(f"{backend}: seeding {missing} patients (this takes minutes)...", file=sys.stderr)
    started = time.perf_counter()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["seed-demo", "--patients", str(missing)])
    if result.exit_code != 0:
        raise SystemExit(f"seed-demo failed: {result.output}\n{result.exception!r}")
    with app.app_context():
        from portal.extensions import db
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    print(f"{backend}: seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)


# --- measuring (its own process: one worker) -------------------------------------------

_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
_NEXT = re.compile(r'href="([^"]+)" rel="next"')


def _rss_mb() -> tuple[float, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def _sign_in(client) -> None:
    import pyotp
    from sqlalchemy import select

    from portal import crypto
    from portal.extensions import db
    from portal.models import User

    with client.application.app_context():
        user = db.session.scalar(select(User).where(User.email == STAFF_EMAIL))
        secret = crypto.decrypt(user.totp_secret).decode()
    page = client.get("/auth/login").get_data(as_text=True)
    token = _TOKEN.search(page).group(1)
    from portal.cli import DEMO_PASSWORD
    response = client.post("/auth/login", data={"email": STAFF_EMAIL, "password": DEMO_PASSWORD},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 303, response.status_code
    totp = pyotp.TOTP(secret)
    for _attempt in range(2):
        page = client.get("/auth/mfa").get_data(as_text=True)
        token = _TOKEN.search(page).group(1)
        response = client.post("/auth/mfa", data={"code": totp.now()},
                               headers={"X-CSRFToken": token})
        if response.status_code == 303:
            assert "/clinic" in response.location, response.location
            return
        # A code is accepted once: a sign-in a moment ago used this one. Wait for the next.
        time.sleep(31 - time.time() % 30)
    raise SystemExit("could not sign in as " + STAFF_EMAIL)


def _sample_patient(app) -> dict[str, str]:
    """Search terms that find one generated patient in the middle of the list."""
    from sqlalchemy import func, select

    from portal.demo.bulk import DOMAIN
    from portal.extensions import db
    from portal.models import Patient, User

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Patient))
        row = db.session.execute(
            select(User.name, Patient.phone, Patient.date_of_birth)
            .join(Patient, Patient.user_id == User.id)
            .where(User.email.endswith("@" + DOMAIN), Patient.phone.is_not(None))
            .order_by(Patient.id).offset(total // 2).limit(1)).one()
    name, phone, dob = row
    return {"name": name, "surname": name.split()[-1],
            "phone": f"{phone[:3]}-{phone[3:6]}-{phone[6:]}",
            "dob": dob.strftime("%d/%m/%Y"), "dob_iso": dob.isoformat()}


def _treated_patient(app) -> str:
    """The public id of a patient in treatment with the most sessions: the fullest chart."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Patient, TreatmentSession

    with app.app_context():
        return db.session.scalar(
            select(Patient.public_id).join(TreatmentSession,
                                           TreatmentSession.patient_id == Patient.id)
            .where(Patient.status == "in_treatment").group_by(Patient.id, Patient.public_id)
            .order_by(func.count(TreatmentSession.id).desc(), Patient.id).limit(1))


def _next_url(client, url: str) -> str | None:
    match = _NEXT.search(client.get(url).get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def measure(backend: str, size: int, requests: int, budget: float) -> dict:
    from urllib.parse import urlencode

    app = _app(database_url(backend, size), backend)
    client = app.test_client()
    _sign_in(client)
    term = _sample_patient(app)
    pages: list[tuple[str, str, dict]] = [
        ("worklist", "/clinic/", {}),
        ("worklist, all patients", "/clinic/?who=all", {}),
        ("patients", "/clinic/patients/", {}),
        ("search: surname", "/clinic/patients/?" + urlencode({"q": term["surname"]}), {}),
        ("search: full name (htmx)", "/clinic/patients/?" + urlencode({"q": term["name"]}),
         {"HX-Request": "true"}),
        ("search: phone", "/clinic/patients/?" + urlencode({"q": term["phone"]}), {}),
        ("search: date of birth", "/clinic/patients/?" + urlencode({"q": term["dob"]}), {}),
        ("sort: most improved", "/clinic/patients/?sort=improved", {}),
        ("sort: most worsened, in treatment",
         "/clinic/patients/?sort=worsened&status=in_treatment", {}),
    ]
    for label, first in (("page 2 by cursor", "/clinic/patients/"),
                         ("page 2, most improved", "/clinic/patients/?sort=improved")):
        url = _next_url(client, first)
        if url:
            pages.append((label, url, {}))
    chart = _treated_patient(app)
    if chart:
        pages += [("chart: summary", f"/clinic/patients/{chart}/", {}),
                  ("chart: sessions tab (htmx)", f"/clinic/patients/{chart}/sessions",
                   {"HX-Request": "true"})]
    pages.append(("outcomes", "/clinic/outcomes", {}))
    results = []
    for label, url, headers in pages:
        for _ in range(3):  # warm up: caches, compiled statements, templates
            status = client.get(url, headers=headers).status_code
        times = []
        began = time.perf_counter()
        for _ in range(requests):
            if len(times) >= 5 and time.perf_counter() - began > budget:
                break
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            response.close()
        times.sort()
        results.append({"page": label, "url": url, "status": status, "n": len(times),
                        "median_ms": statistics.median(times),
                        "p95_ms": times[max(0, round(0.95 * len(times)) - 1)]})
    rss, peak = _rss_mb()
    with app.app_context():
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models import Patient
        patients = db.session.scalar(select(func.count()).select_from(Patient))
    return {"backend": backend, "size": size, "patients": patients, "requests": requests,
            "results": results, "rss_mb": rss, "peak_rss_mb": peak}


# --- the report --------------------------------------------------------------------------

def report(runs: list[dict]) -> str:
    lines = ["# Benchmark: staff pages at scale (SPEC 8.5)", "",
             f"Targets: server time under {TARGET_MS} ms; a worker under {TARGET_RSS_MB} MB "
             "resident.", "", "## Median server time (ms) by size", ""]
    header = " | ".join(f"{r['backend']} {r['patients']:,}" for r in runs)
    lines += [f"| page | {header} |", "| --- |" + " ---: |" * len(runs)]
    for label in dict.fromkeys(r["page"] for run in runs for r in run["results"]):
        cells = []
        for run in runs:
            found = [r for r in run["results"] if r["page"] == label]
            cells.append(f"{found[0]['median_ms']:.1f}" if found else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["| worker RSS after, MB | " + " | ".join(f"{r['rss_mb']:.0f}" for r in runs)
              + " |", ""]
    for run in runs:
        lines += [f"## {run['backend']}: {run['patients']:,} patients, "
                  f"up to {run['requests']} requests per page", "",
                  "| page | requests | median ms | p95 ms | status | target |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        for r in run["results"]:
            ok = "ok" if r["median_ms"] < TARGET_MS else "SLOW"
            lines.append(f"| {r['page']} | {r['n']} | {r['median_ms']:.1f} | "
                         f"{r['p95_ms']:.1f} | {r['status']} | {ok} |")
        ok = "ok" if run["rss_mb"] < TARGET_RSS_MB else "OVER"
        lines += ["", f"Worker resident memory after the requests: {run['rss_mb']:.0f} MB "
                      f"(peak {run['peak_rss_mb']:.0f} MB): {ok}.", ""]
    return "\n".join(lines)


def _self(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="generated patients per database (one database per size)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds per page after which fewer requests suffice")
    parser.add_argument("--backend", nargs="+", default=["postgresql", "sqlite"],
                        choices=["postgresql", "sqlite"])
    parser.add_argument("--step", choices=["seed", "measure"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step == "seed":
        seed(args.backend[0], args.sizes[0])
        return 0
    if args.step == "measure":
        print(json.dumps(measure(args.backend[0], args.sizes[0], args.requests, args.budget)))
        return 0
    runs = []
    for size in args.sizes:
        for backend in args.backend:
            _self("--step", "seed", "--backend", backend, "--sizes", str(size))
            out = _self("--step", "measure", "--backend", backend, "--sizes", str(size),
                        "--requests", str(args.requests), "--budget", str(args.budget)).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
