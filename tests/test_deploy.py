"""The production deployment files (deploy/): nginx in front of gunicorn, as the systemd
units run them.

Each test starts gunicorn with deploy/gunicorn.conf.py (settings from the environment, one
worker, a 10 s timeout) against the test's own migrated database, and Debian's nginx in
front of it with its own configuration, prefix and pid file in a temporary folder: a plain
HTTP server on a free port that includes deploy/nginx/ims-portal-common.conf, rendered with
the test's upstream port and static folder. The real TLS site is checked with `nginx -t`.
"""
from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import url_for

from tests.factories import PASSWORD, make_patient
from tests.served import GUNICORN, ROOT, START_TIMEOUT
from tests.served import environment as _environment
from tests.served import free_port as _free_port
from tests.served import stop as _stop

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")
WORKER_TIMEOUT = 10  # gunicorn's timeout in these tests (30 s in production)
_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def _require_nginx() -> str:
    if os.access(NGINX, os.X_OK) and MIME_TYPES.exists():
        return NGINX
    message = "nginx is not installed: `make nginx` installs Debian's package"
    if os.environ.get("CI"):
        pytest.fail(message + " (required on CI)")
    pytest.skip(message)


def _render(text: str, replacements: dict[str, str]) -> str:
    """Substitute the deployment file's placeholders; each must be there exactly once, so a
    change to the real file cannot leave the test checking something else."""
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} should occur once in the deployment file"
        text = text.replace(old, new)
    return text


def _paths(tmp: Path) -> str:
    """Everything nginx writes, inside the test's folder."""
    return "\n".join([
        f'pid "{tmp}/nginx.pid";',
        f'error_log "{tmp}/error.log" info;',
        "worker_processes 1;",
        # As root the workers would otherwise run as nobody, who cannot enter pytest's
        # private temporary folder. Only this test's configuration does this.
        "user root;" if os.geteuid() == 0 else "",
        "events { worker_connections 64; }",
    ])


def _http_paths(tmp: Path) -> str:
    return "\n".join(f'{name}_temp_path "{tmp}/{name}";'
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def _write_nginx_conf(tmp: Path, port: int, upstream_port: int) -> Path:
    tmp.mkdir(exist_ok=True)
    common = _render((DEPLOY / "nginx" / "ims-portal-common.conf").read_text(), {
        "proxy_pass http://127.0.0.1:8000;": f"proxy_pass http://127.0.0.1:{upstream_port};",
        "alias /srv/ims-portal/static/;": f'alias "{ROOT / "static"}/";',
    })
    (tmp / "ims-portal-common.conf").write_text(common)
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{_paths(tmp)}
http {{
    include "{MIME_TYPES}";
    default_type application/octet-stream;
    log_format test '$status "$request" $request_length $upstream_status';
    access_log "{tmp}/access.log" test;
    {_http_paths(tmp)}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include "{tmp}/ims-portal-common.conf";
    }}
}}
""")
    return conf


def _wait_for_port(proc, port: int, what: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited early:\n{_read(log_path)}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not listen on {port} in {START_TIMEOUT} s:\n{_read(log_path)}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _start_gunicorn(app, tmp_path: Path, name: str, port: int):
    """gunicorn as the systemd unit starts it: `-c deploy/gunicorn.conf.py app:app`, with
    the settings in the environment."""
    env = _environment(app, tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
                       GUNICORN_TIMEOUT=str(WORKER_TIMEOUT), GUNICORN_GRACEFUL_TIMEOUT="5",
                       GUNICORN_CMD_ARGS=None, PROXY_FIX_X_FOR="1", PROXY_FIX_X_PROTO="1")
    log_path = tmp_path / f"{name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "app:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, log_path


@dataclass
class Stack:
    nginx_port: int
    gunicorn_port: int
    gunicorn_log: Path
    nginx_dir: Path

    def gunicorn_output(self) -> str:
        return _read(self.gunicorn_log)

    def nginx_access(self) -> str:
        return _read(self.nginx_dir / "access.log")

    def get(self, path: str, headers: dict[str, str] | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


def _two_ports() -> tuple[int, int]:
    first = _free_port()
    second = _free_port()
    while second == first:
        second = _free_port()
    return first, second


@pytest.fixture
def stack(app, tmp_path):
    nginx = _require_nginx()
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed in this environment")
    gunicorn_port, nginx_port = _two_ports()
    gproc, glog, glog_path = _start_gunicorn(app, tmp_path, "gunicorn", gunicorn_port)
    nproc = nlog = None
    nginx_dir = tmp_path / "nginx"
    try:
        _wait_for_port(gproc, gunicorn_port, "gunicorn", glog_path)
        conf = _write_nginx_conf(nginx_dir, nginx_port, gunicorn_port)
        nlog = open(nginx_dir / "nginx.out", "wb")
        nproc = subprocess.Popen([nginx, "-p", f"{nginx_dir}/", "-e", str(nginx_dir / "error.log"),
                                  "-c", str(conf), "-g", "daemon off;"],
                                 stdout=nlog, stderr=subprocess.STDOUT)
        _wait_for_port(nproc, nginx_port, "nginx", nginx_dir / "error.log")
        yield Stack(nginx_port, gunicorn_port, glog_path, nginx_dir)
    finally:
        if nproc is not None:
            _stop(nproc, nlog)
        elif nlog is not None:
            nlog.close()
        _stop(gproc, glog)


# --- raw HTTP, for bodies sent slowly ----------------------------------------------------

def _send_slowly(port: int, head: bytes, chunks: list[bytes], *, every: float,
                 read_timeout: float = 30, head_only: bool = False) -> bytes:
    """Send the request head, then one chunk every `every` seconds; return whatever comes
    back until the server closes the connection (b"" if it closed without an answer), or
    only the answer's head with `head_only`."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        try:
            sock.sendall(head)
            for chunk in chunks:
                time.sleep(every)
                sock.sendall(chunk)
        except OSError:
            pass  # the server hung up while we were still sending
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if head_only and b"\r\n\r\n" in answer:
                    break
        except OSError:
            pass  # reset by a killed worker
    return answer


def _head(path: str, length: int, cookie: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Connection: close",
             "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {length}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _split(body: bytes, parts: int) -> list[bytes]:
    size = -(-len(body) // parts)
    return [body[i:i + size] for i in range(0, len(body), size)]


def _status(answer: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else None


def _header(answer: bytes, name: str) -> str | None:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def _sign_in_form(stack: Stack) -> tuple[str, str]:
    """The sign-in page through nginx: its session cookie and CSRF token."""
    response, body = stack.get("/auth/login")
    assert response.status == 200
    cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie"))
    token = _TOKEN.search(body.decode())
    assert token, "no CSRF token on the sign-in page"
    return cookie, token.group(1)


# --- the tests -----------------------------------------------------------------------------

def test_slow_upload_is_buffered_by_nginx_and_holds_no_worker(app, stack, tmp_path):
    """A sign-in whose body takes about 40 s to arrive (a phone on a weak connection) goes
    through nginx whole and signs the patient in, although gunicorn kills a worker that is
    busy for 10 s; meanwhile the single worker still answers other requests. The same kind
    of body sent straight to gunicorn gets the worker killed, which shows the check can fail.
    """
    patient = make_patient()
    with app.test_request_context():
        home = url_for("patient.home")
    cookie, token = _sign_in_form(stack)
    # The password comes last: a body cut short would fail the form (422), not sign in.
    body = urllib.parse.urlencode([("csrf_token", token), ("email", patient.email),
                                   ("padding", "x" * 300_000),
                                   ("password", PASSWORD)]).encode()
    chunks = _split(body, 40)
    assert len(chunks) == 40

    # The contrast: a second gunicorn, same settings, no nginx in front, a 15 s body.
    direct_port = _free_port()
    while direct_port in (stack.gunicorn_port, stack.nginx_port):
        direct_port = _free_port()
    dproc, dlog, dlog_path = _start_gunicorn(app, tmp_path, "gunicorn-direct", direct_port)
    try:
        _wait_for_port(dproc, direct_port, "gunicorn (direct)", dlog_path)
        answers: dict[str, bytes] = {}
        sent_through_nginx = threading.Thread(target=lambda: answers.__setitem__(
            "nginx", _send_slowly(stack.nginx_port, _head("/auth/login", len(body), cookie),
                                  chunks, every=1.0)))
        direct_body = b"email=x%40example.org&password=" + b"y" * 15_000
        sent_direct = threading.Thread(target=lambda: answers.__setitem__(
            "direct", _send_slowly(direct_port, _head("/auth/login", len(direct_body)),
                                   _split(direct_body, 15), every=1.0)))
        started = time.monotonic()
        sent_through_nginx.start()
        sent_direct.start()

        # While nginx receives the slow body, the one gunicorn worker behind it is free.
        for at in (5, 20):
            time.sleep(max(0.0, started + at - time.monotonic()))
            before = time.monotonic()
            response, _ = stack.get("/healthz")
            assert response.status == 200
            assert time.monotonic() - before < 3, "the worker was busy during the upload"

        sent_direct.join(timeout=60)
        sent_through_nginx.join(timeout=90)
        elapsed = time.monotonic() - started
    finally:
        _stop(dproc, dlog)

    assert elapsed >= 38, f"the body was not sent slowly ({elapsed:.0f} s)"
    answer = answers["nginx"]
    gunicorn_log = stack.gunicorn_output()
    assert _status(answer) == 303, (answer[:2000], gunicorn_log)
    assert _header(answer, "Location").endswith(home), answer[:2000]
    assert "WORKER TIMEOUT" not in gunicorn_log, gunicorn_log
    # nginx received the whole body and passed it on; gunicorn answered it.
    logged = re.search(r'303 "POST /auth/login HTTP/1.1" (\d+) 303', stack.nginx_access())
    assert logged and int(logged.group(1)) > len(body), stack.nginx_access()

    # Straight to gunicorn: the worker still reading the body is killed after 10 s, and the
    # client gets gunicorn's own 500 (or nothing), never the app's answer.
    assert _status(answers["direct"]) in (None, 500), answers["direct"][:500]
    direct_log = _read(dlog_path)
    assert "WORKER TIMEOUT" in direct_log, direct_log


def test_compression_and_caching_through_nginx(stack):
    """Pages: compressed by the app for the portal's own requests and passed through as
    they came, never compressed by nginx (the app's BREACH rule, portal/assets.py). Static
    files: gzipped by nginx, hashed names kept a year, plain names revalidated."""
    import json

    import brotli  # type: ignore[import-untyped]

    own = {"Accept-Encoding": "br, gzip", "Sec-Fetch-Site": "same-origin"}
    response, body = stack.get("/auth/login", own)
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in ", ".join(response.headers.get_all("Vary"))
    html = brotli.decompress(body).decode()
    assert "<html" in html and _TOKEN.search(html)
    response, body = stack.get("/auth/login", {**own, "Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip" and b"<html" in gzip.decompress(body)
    # Started by another site, or by a browser that does not say: plain, nginx adds nothing.
    for who in ({"Sec-Fetch-Site": "cross-site"}, {}):
        plain, plain_body = stack.get("/auth/login", {"Accept-Encoding": "gzip", **who})
        assert plain.status == 200
        assert plain.headers.get("Content-Encoding") is None, who
        assert b"<html" in plain_body

    manifest = json.loads((ROOT / "static" / "cache_manifest.json").read_text())
    hashed = manifest["css/portal.css"]
    response, body = stack.get(f"/static/{hashed}", {"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (ROOT / "static" / hashed).read_bytes()
    assert response.headers.get_all("Cache-Control") == ["public, max-age=31536000, immutable"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response, body = stack.get("/static/css/portal.css", {"Accept-Encoding": "gzip"})
    assert response.status == 200 and response.headers["Content-Encoding"] == "gzip"
    assert response.headers.get_all("Cache-Control") == ["no-cache"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Served by nginx from the folder: gunicorn never saw them.
    assert "GET /auth/login" in stack.gunicorn_output()
    assert "/static/" not in stack.gunicorn_output()


def test_security_headers_pass_through_once(stack):
    response, _ = stack.get("/auth/login")
    assert response.status == 200
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                 "Permissions-Policy", "X-Frame-Options"):
        assert len(response.headers.get_all(name) or []) == 1, (name, response.headers.items())
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers.get_all("Cache-Control") == ["no-store"]
    assert response.headers["Server"] == "nginx"  # no version number (server_tokens off)


def test_body_larger_than_the_limit_is_refused_by_nginx(stack):
    common = (DEPLOY / "nginx" / "ims-portal-common.conf").read_text()
    limit = int(re.search(r"^client_max_body_size (\d+)m;", common, re.M).group(1)) * 1024 ** 2
    assert limit == 67108864  # the app's MAX_CONTENT_LENGTH default (README)

    answer = _send_slowly(stack.nginx_port, _head("/auth/login", limit + 1),
                          [b"x" * 65536], every=0, read_timeout=10, head_only=True)
    assert _status(answer) == 413, answer[:500]
    assert "POST /auth/login" not in stack.gunicorn_output()


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.example.org")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("portal.example.org")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "fullchain.pem", tmp / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_site_passes_nginx_config_test(tmp_path):
    nginx = _require_nginx()
    tmp = tmp_path / "nginx-tls"
    tmp.mkdir()
    cert, key = _self_signed(tmp)
    (tmp / "ims-portal-common.conf").write_text(
        (DEPLOY / "nginx" / "ims-portal-common.conf").read_text())
    site = _render((DEPLOY / "nginx" / "ims-portal.conf").read_text(), {
        "/etc/letsencrypt/live/portal.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/portal.example.org/privkey.pem": str(key),
        "include snippets/ims-portal-common.conf;": f'include "{tmp}/ims-portal-common.conf";',
    })
    (tmp / "ims-portal.conf").write_text(site)
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{_paths(tmp)}
http {{
    include "{MIME_TYPES}";
    {_http_paths(tmp)}
    include "{tmp}/ims-portal.conf";
}}
""")
    result = subprocess.run([nginx, "-t", "-p", f"{tmp}/", "-e", str(tmp / "error.log"),
                             "-c", str(conf)], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "test is successful" in output, output
    # nginx 1.25.1 and later warn that `listen ... http2` is deprecated (`http2 on;`, which
    # Debian 12's nginx 1.22 does not know); any other warning is a mistake in the file.
    warnings = [line for line in output.splitlines()
                if "[warn]" in line and "http2" not in line]
    assert not warnings, output
