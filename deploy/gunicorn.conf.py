"""gunicorn settings for the portal's web process: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Every value can be changed from the environment (the systemd unit reads
/etc/ims-portal/env), so one file serves every machine. Options given on the command line
still win over this file.
"""
from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Only nginx on the same machine talks to gunicorn; nothing else can reach the port.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request at a time each, which is all the portal needs because nginx
# buffers the whole request body (slow phone uploads) and the whole response before a worker
# sees or sends them, so a worker is only busy while the app itself runs. WEB_CONCURRENCY is
# the usual name hosting tools use for the number of processes. Each worker is a full copy of
# the app (about 130 MB resident in README's benchmark): size this to memory as well as cores.
workers = _int("WEB_CONCURRENCY", 2)
worker_class = "sync"


def on_starting(server):
    """Refuse to start, in production, several workers that would each count sign-in
    attempts in their own memory (RATELIMIT_STORAGE_URI=memory://): the app checks
    WEB_CONCURRENCY itself, this checks the number gunicorn really starts (`-w` included)."""
    from portal.config import Config, per_worker_refusal

    if Config.ENV_NAME == "production":
        settings = {k: getattr(Config, k) for k in dir(Config) if k.startswith("RATELIMIT_")}
        refusal = per_worker_refusal(settings, server.cfg.workers)
        if refusal:
            raise RuntimeError(refusal)  # gunicorn prints "Error: …" and exits with 1

# A request that runs longer than this is taken as stuck: gunicorn kills the worker and
# starts a new one rather than lose the slot for good. (A sync worker reading a slow request
# body itself would be killed too; nginx's buffering is what prevents that.)
timeout = _int("GUNICORN_TIMEOUT", 30)
# On restart or stop (SIGTERM), a worker may finish the request it is serving for this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)

# Trust X-Forwarded-Proto (and the other X-Forwarded-* headers) only from the local nginx.
# The app itself reads them through ProxyFix (PROXY_FIX_X_FOR / PROXY_FIX_X_PROTO = 1).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs go to stdout/stderr, where systemd's journal collects them; nginx keeps its own
# access log too. The access log holds paths, never bodies.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Restart each worker after about this many requests so that slow growth in memory (pillow,
# pypdfium2 and the ORM's caches) stays bounded; the jitter keeps the workers from all
# restarting at the same moment. 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# No runtime control socket (gunicorn 25.1+ opens one under $HOME or $XDG_RUNTIME_DIR for
# `gunicornc`): systemd starts, reloads and stops the process, and the service's home is
# read-only or hidden under the unit's hardening anyway.
control_socket_disable = True
