"""Flask's ``session`` kept on the server (SPEC 1.4, 8.7): the cookie carries a random id
and nothing else.

What a session holds (the sign-in it carries, flash messages that may name a patient's
document, the language chosen, a sign-in waiting for its second step) is a row of
``browser_sessions``, keyed by the SHA-256 of the id and encrypted with the configured keys,
so that neither the cookie nor a copy of the table shows it. Every process reads the same
rows, so any number of them can serve one browser.

* A row is written only once there is something to keep: a visitor who only looks at public
  pages costs no write. Their form's CSRF token is not stored but derived from the session
  id with the secret key (an HMAC, as OWASP's Cross-Site Request Forgery Prevention Cheat
  Sheet describes for tokens bound to a session), so a cookie carrying the id is all such a
  visitor needs.
* A row is never written under an id that the browser brought and no row had: an id
  someone planted (or one that expired) is replaced by a new one as soon as there is
  something to keep. Sign-in, the second step of a sign-in and sign-out take a new id too
  (``rotate``); the old row is deleted.
* An unknown, malformed or expired id is an empty session.
* Rows expire PERMANENT_SESSION_LIFETIME after the browser's last request; the worker's
  schedule deletes them (``sweep``).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.fernet import InvalidToken
from flask import Flask, Request, g, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict
from werkzeug.wrappers import Response

from portal import clock, crypto
from portal.extensions import db
from portal.models import BrowserSession

log = logging.getLogger(__name__)

# What portal.crypto.new_token makes: 32 random bytes (256 bits), URL-safe base64.
_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# Moving a row's expiry on every request would make every page view a write.
_TOUCH_EVERY = timedelta(minutes=5)
_SERIALIZER = TaggedJSONSerializer()


class ServerSession(CallbackDict, SessionMixin):
    """The session of one request. ``sid`` is the id the response's cookie will carry;
    ``cookie_sid`` what the request's cookie carried; ``stored`` whether a row holds
    ``sid``'s data. The CSRF token's key (Flask-WTF's) always holds the token derived from
    ``sid`` and is never stored."""

    def __init__(self, sid: str, data: dict, *, cookie_sid: str | None, stored: bool,
                 expires_at: datetime | None, csrf_key: str, secret: bytes) -> None:
        self.sid = sid
        self.cookie_sid = cookie_sid
        self.stored = stored
        self.expires_at = expires_at
        self.csrf_key = csrf_key
        self.secret = secret
        self.dropped: list[str] = []   # hashes of ids given up in this request
        self.csrf_used = False         # the page carries a token bound to ``sid``
        self.unavailable = False       # the store could not be read: change nothing
        self.modified = False
        self.accessed = False
        super().__init__(data, ServerSession._changed)
        self._bind_csrf()

    def _changed(self) -> None:
        self.modified = self.accessed = True
        if not self.stored and self.sid == self.cookie_sid and self.stored_data():
            self._new_id()
        self._bind_csrf()

    def _bind_csrf(self) -> None:
        token = hmac.new(self.secret, b"csrf:" + self.sid.encode(), hashlib.sha256).hexdigest()
        dict.__setitem__(self, self.csrf_key, token)

    def _new_id(self) -> None:
        if self.stored:
            self.dropped.append(crypto.token_hash(self.sid))
        self.sid = crypto.new_token()
        self.stored = False
        # Flask-WTF keeps the request's signed token: the page must carry the new one.
        g.pop(self.csrf_key, None)

    def rotate(self) -> None:
        """A new id for what the session holds now; the old id's row goes."""
        self._new_id()
        self.modified = True
        self._bind_csrf()

    def stored_data(self) -> dict[str, Any]:
        return {key: value for key, value in self.items() if key != self.csrf_key}

    def __getitem__(self, key: str) -> Any:
        self._read(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._read(key)
        return super().get(key, default)

    def _read(self, key: str) -> None:
        self.accessed = True
        if key == self.csrf_key:
            self.csrf_used = True


def rotate() -> None:
    """Give the current session a new id (sign-in, sign-out): session fixation."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, ServerSession):
        current.rotate()


class ServerSessionInterface(SessionInterface):
    """Installed as ``app.session_interface`` by the app factory."""

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        cookie = request.cookies.get(self.get_cookie_name(app))
        sid = cookie if cookie is not None and _ID.fullmatch(cookie) else None
        # Static files need no session: no read, and nothing written after them.
        unavailable = request.path.startswith(f"{app.static_url_path}/")
        found = None
        if sid is not None and not unavailable:
            try:
                found = _load(sid)
            except SQLAlchemyError:
                log.exception("the session store cannot be read")
                unavailable = True
        data, expires_at = found if found is not None else ({}, None)
        opened = ServerSession(sid or crypto.new_token(), data, cookie_sid=cookie,
                               stored=found is not None, expires_at=expires_at,
                               csrf_key=app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"),
                               secret=str(app.secret_key).encode())
        opened.unavailable = unavailable
        return opened

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.unavailable:
            return
        if session.accessed:
            response.vary.add("Cookie")
        data = session.stored_data()
        try:
            _write(session, data, app.permanent_session_lifetime)
        except SQLAlchemyError:
            # What the request did is committed already; only what the session was to
            # keep (a message for the next page) is lost, and the cookie stays as it was.
            log.exception("the session store cannot be written")
            return
        self._set_cookie(app, session, bool(data), response)

    def _set_cookie(self, app: Flask, session: ServerSession, has_data: bool,
                    response: Response) -> None:
        wanted = has_data or session.csrf_used
        if session.sid != session.cookie_sid:
            if wanted:
                self._send(app, session, response)
            elif session.cookie_sid is not None:
                response.delete_cookie(
                    self.get_cookie_name(app), domain=self.get_cookie_domain(app),
                    path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                    samesite=self.get_cookie_samesite(app),
                    httponly=self.get_cookie_httponly(app),
                    partitioned=self.get_cookie_partitioned(app))
            response.vary.add("Cookie")
        elif has_data and (session.modified or self.should_set_cookie(app, session)):
            self._send(app, session, response)
            response.vary.add("Cookie")

    def _send(self, app: Flask, session: ServerSession, response: Response) -> None:
        response.set_cookie(
            self.get_cookie_name(app), session.sid,
            expires=self.get_expiration_time(app, session),
            domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
            httponly=self.get_cookie_httponly(app),
            partitioned=self.get_cookie_partitioned(app))


def _load(sid: str) -> tuple[dict, datetime] | None:
    """The data kept for ``sid`` and when it expires; None if there is none (unknown,
    expired, or written with a key no longer configured)."""
    with db.engine.connect() as conn:
        row = conn.execute(select(BrowserSession.data, BrowserSession.expires_at)
                           .where(BrowserSession.id_hash == crypto.token_hash(sid))).first()
    if row is None or row.expires_at <= clock.now():
        return None
    data = _decode(row.data)
    return (data, row.expires_at) if data is not None else None


def _decode(blob: bytes) -> dict | None:
    """A row's data; None if unreadable with the keys configured today."""
    try:
        data = _SERIALIZER.loads(crypto.decrypt(blob).decode())
    except (InvalidToken, ValueError):
        return None
    return data if isinstance(data, dict) else None


def signed_in_sids(batch: int = 500) -> Iterator[tuple[str, str | None]]:
    """(id hash, the sign-in's session id or None) of every browser session not expired:
    only the encrypted data says which sign-in a browser carries. A full read: for the
    rare caller that must find every browser of a user (portal.rights.disposal)."""
    after = ""
    while True:
        rows = db.session.execute(
            select(BrowserSession.id_hash, BrowserSession.data)
            .where(BrowserSession.id_hash > after, BrowserSession.expires_at > clock.now())
            .order_by(BrowserSession.id_hash).limit(batch)).all()
        if not rows:
            return
        after = rows[-1].id_hash
        for row in rows:
            sid = (_decode(row.data) or {}).get("sid")
            yield row.id_hash, sid if isinstance(sid, str) else None


def _write(session: ServerSession, data: dict, lifetime: timedelta) -> None:
    now = clock.now()
    key = crypto.token_hash(session.sid)
    with db.engine.begin() as conn:
        for dropped in session.dropped:
            conn.execute(delete(BrowserSession).where(BrowserSession.id_hash == dropped))
        if data and session.modified:
            _put(conn, session, key, data, now + lifetime)
        elif session.stored and not data:
            conn.execute(delete(BrowserSession).where(BrowserSession.id_hash == key))
        elif session.stored and session.expires_at is not None \
                and session.expires_at - now < lifetime - _TOUCH_EVERY:
            conn.execute(update(BrowserSession).where(BrowserSession.id_hash == key)
                         .values(expires_at=now + lifetime))


def _put(conn: Connection, session: ServerSession, key: str, data: dict,
         expires_at: datetime) -> None:
    blob = crypto.encrypt(_SERIALIZER.dumps(data).encode())
    if session.stored:
        # A row deleted meanwhile (signed out in another tab) stays deleted.
        conn.execute(update(BrowserSession).where(BrowserSession.id_hash == key)
                     .values(data=blob, expires_at=expires_at))
    else:
        conn.execute(insert(BrowserSession).values(id_hash=key, data=blob,
                                                   created_at=clock.now(),
                                                   expires_at=expires_at))


def sweep() -> int:
    """Delete the rows past their expiry; how many went."""
    result = cast(CursorResult[Any], db.session.execute(
        delete(BrowserSession).where(BrowserSession.expires_at <= clock.now())))
    db.session.commit()
    return result.rowcount or 0
