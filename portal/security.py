"""Who is signed in, who may see what, and the headers every response carries.

* Sessions are server-side (SPEC 1.4): the cookie holds a random id, and what Flask's
  ``session`` holds is kept on the server under it (portal.session_store). A sign-in is a
  random token in that session whose hash is a row in ``user_sessions``; revoking the row
  ends the sign-in wherever the cookie is. Idle and absolute limits are checked on every
  request.
* One authorization rule (SPEC 1.5): ``patient_for(user, public_id)``. Anything a role may
  not see answers 404, so existence does not leak.
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps
from typing import Any, cast
from urllib.parse import SplitResult, urlsplit

from flask import Flask, Response, abort, current_app, g, request, session, url_for
from flask_login import current_user
from sqlalchemy import CursorResult, select, update
from werkzeug.wrappers import Response as BaseResponse

from portal import clock, htmx, session_store
from portal.crypto import new_token, token_hash
from portal.extensions import db, login_manager
from portal.models import Patient, User, UserSession

# Writing last_seen_at on every request would turn every page view into a write.
_TOUCH_EVERY = timedelta(seconds=60)


# --- sessions -------------------------------------------------------------------------

def fresh_session() -> None:
    """A new session id, and nothing of the old session but the language choice: at every
    change of who the browser is (sign-in, its second step, sign-out)."""
    lang = session.get("lang")
    session.clear()
    session_store.rotate()
    if lang:
        session["lang"] = lang


def start_session(user: User) -> UserSession:
    """Sign ``user`` in: a fresh session id (rotated at every sign-in), nothing kept from
    the anonymous session except the language choice."""
    fresh_session()
    token = new_token()
    row = UserSession(user_id=user.id, token_hash=token_hash(token),
                      created_at=clock.now(), last_seen_at=clock.now(),
                      ip=request.remote_addr,
                      user_agent=(request.user_agent.string or "")[:255])
    db.session.add(row)
    session["sid"] = token
    session.permanent = True
    return row


def end_session() -> None:
    """Revoke the current session (sign-out) and forget the cookie."""
    sid = session.get("sid")
    if sid:
        db.session.execute(update(UserSession)
                           .where(UserSession.token_hash == token_hash(sid),
                                  UserSession.revoked_at.is_(None))
                           .values(revoked_at=clock.now()))
    fresh_session()  # the row of the signed-in session goes with its id


def revoke_all_sessions(user: User, keep_current: bool = False) -> int:
    """End every session of ``user`` (password change, deactivation, reset)."""
    stmt = (update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=clock.now()))
    sid = session.get("sid") if keep_current else None
    if sid:
        stmt = stmt.where(UserSession.token_hash != token_hash(sid))
    return cast(CursorResult[Any], db.session.execute(stmt)).rowcount or 0


def idle_timeout(user: User) -> timedelta:
    cfg = current_app.config
    return cfg["IDLE_TIMEOUT_STAFF"] if user.is_staff else cfg["IDLE_TIMEOUT_PATIENT"]


def _load_from_session(_request) -> User | None:
    sid = session.get("sid")
    if not sid:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(sid)))
    now = clock.now()
    user = row.user if row is not None else None
    if row is None or row.revoked_at is not None or user is None or not user.active:
        session.pop("sid", None)
        return None
    timed_out = None
    if now - row.created_at > current_app.config["SESSION_LIFETIME"]:
        timed_out = "lifetime"
    elif now - row.last_seen_at > idle_timeout(user):
        timed_out = "idle"
    if timed_out:
        session["expired"] = timed_out  # the sign-in page says why
        # Whose session timed out in this browser (an opaque id, in the server's session):
        # a form posted after the timeout is kept for that person (SPEC 2.4). Sign-in
        # clears it with the rest of the anonymous session.
        session["expired_user"] = user.public_id
        row.revoked_at = now
        db.session.commit()
        session.pop("sid", None)
        return None
    if now - row.last_seen_at > _TOUCH_EVERY and not _passive_request():
        row.last_seen_at = now
        db.session.commit()
    g.user_session = row
    return user


def passive(view):
    """Marks a view that pages call by themselves (the worklist's refresh): such a request is
    not activity, so a page left open does not keep an unattended session alive past the idle
    timeout (SPEC 1.4). Put it under the access decorator, which copies the mark."""
    view.passive_request = True
    return view


def _passive_request() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "passive_request", False))


@login_manager.unauthorized_handler
def _unauthorized() -> BaseResponse:
    # htmx requests get HX-Redirect, never a sign-in form swapped into a fragment.
    return htmx.hx_redirect(url_for("auth.login", next=_current_path()))


def _current_path() -> str:
    path = request.full_path if request.query_string else request.path
    if request.method != "GET":
        # After sign-in, go back to the page that held the form, not to the POST target.
        referrer = htmx.current_url() or request.referrer or ""
        parts = _split(referrer)
        if parts is not None and parts.netloc == request.host:
            return safe_next(parts.path + (f"?{parts.query}" if parts.query else "")) or "/"
        return "/"
    return path


def init_login(app: Flask) -> None:
    login_manager.request_loader(_load_from_session)
    login_manager.session_protection = None
    login_manager.login_view = "auth.login"


# --- access rules ---------------------------------------------------------------------

def role_required(*roles: str):
    """Signed in, with one of ``roles``; anyone else gets a 404 (SPEC 1.5)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)
        return wrapped
    return decorator


patient_required = role_required("patient")
staff_required = role_required("practitioner", "admin")
admin_required = role_required("admin")


def me() -> User:
    """The signed-in user themselves (not Flask-Login's proxy), to store or compare."""
    return cast(User, current_user._get_current_object())


def own_patient() -> Patient:
    """The signed-in patient's own record; 404 for anyone who is not a patient."""
    patient = current_user.patient
    if patient is None:
        abort(404)
    return cast(Patient, patient)


def patient_for(user: User, public_id: str) -> Patient:
    """The one rule: a patient sees only their own record; staff see the clinic's patients.
    Everything else is a 404."""
    patient = db.session.scalar(select(Patient).where(Patient.public_id == public_id))
    # A record disposed of (SPEC 11.2) is gone for everyone: only its tombstone remains.
    if patient is None or not user.is_authenticated or patient.status == "disposed":
        abort(404)
    if user.is_staff or patient.user_id == user.id:
        return patient
    abort(404)


def home_for(user: User) -> str:
    if user.role == "patient":
        return url_for("patient.home")
    return url_for("clinic.worklist")


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return None
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = _split(target)
    if (parts is None or parts.scheme or parts.netloc or not target.startswith("/")
            or target.startswith("//")):
        return None
    return target


def _split(address: str) -> SplitResult | None:
    """``address`` taken apart, or None when it cannot be (urllib raises ValueError on an
    unclosed IPv6 bracket such as "http://[", sent by anyone in ?next= or a Referer)."""
    try:
        return urlsplit(address)
    except ValueError:
        return None


# --- headers (SPEC 8.4) ---------------------------------------------------------------

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
PERMISSIONS = ("accelerometer=(), autoplay=(), camera=(), geolocation=(), gyroscope=(), "
               "magnetometer=(), microphone=(), payment=(), usb=()")


# Files the same for everyone, named by their content (portal/assets.py): kept by browsers.
CACHEABLE_ENDPOINTS = frozenset({"static", "core.clinic_logo"})


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        # Nothing the portal renders may be kept by a browser or proxy cache.
        headers["Cache-Control"] = "no-store"
        headers.setdefault("Pragma", "no-cache")
    return response
