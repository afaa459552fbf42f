"""Server-side sessions (SPEC 1.4): sign-out, password change, deactivation and "sign out
everywhere" end sessions for real; idle and absolute limits; the id rotates at sign-in."""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import func, select

from portal import clock, session_store
from portal.crypto import token_hash
from portal.models import AuditEvent, BrowserSession, UserSession
from tests.conftest import Auth
from tests.factories import (
    PASSWORD,
    make_admin,
    make_document,
    make_patient,
    make_practitioner,
)

COOKIE = "portal_session"
NEW_PASSWORD = "another long passphrase 42"


@pytest.fixture
def new_client(app, client):
    """Another browser with its own cookies (and the CSRF-sending behaviour of ``client``)."""
    return app.test_client


def _cookie(c) -> str | None:
    cookie = c.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _sid(app, c) -> str | None:
    """The sign-in token the browser's session holds on the server."""
    if _cookie(c) is None:
        return None
    with c.session_transaction() as session:
        return session.get("sid")


def _with_cookie(new_client, value: str):
    other = new_client()
    other.set_cookie(COOKIE, value)
    return other


def _home(user) -> str:
    return "/me/" if user.role == "patient" else "/clinic/"


def _signed_in(c, user) -> bool:
    response = c.get(_home(user))
    if response.status_code == 200:
        return True
    assert response.status_code in (302, 303), response.status_code
    assert "/auth/login" in response.location
    return False


def _browser_row(db, cookie: str) -> BrowserSession | None:
    db.session.expire_all()
    return db.session.get(BrowserSession, token_hash(cookie))


def _sessions(db, user) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.id)))


# --- sign-out -------------------------------------------------------------------------

def test_logout_is_post_only(client, auth):
    patient = make_patient()
    auth.login(patient)
    assert client.get("/auth/logout").status_code == 405
    assert _signed_in(client, patient)


def test_logout_needs_the_csrf_token(client, auth):
    patient = make_patient()
    auth.login(patient)
    assert client.post("/auth/logout", csrf=False).status_code == 400
    assert _signed_in(client, patient)


def test_logout_ends_the_session_for_real(app, client, auth, new_client, db):
    patient = make_patient()
    auth.login(patient)
    assert _signed_in(client, patient)
    stolen = _cookie(client)
    assert _sid(app, client)

    response = auth.logout()
    assert response.status_code == 303 and response.location.endswith("/auth/login")
    assert not _signed_in(client, patient)
    # The cookie as it was before sign-out, replayed from another browser, is worthless.
    replay = _with_cookie(new_client, stolen)
    assert not _signed_in(replay, patient)
    [row] = _sessions(db, patient)
    assert row.revoked_at is not None


# --- what the cookie carries ----------------------------------------------------------

def _set_cookie_value(response) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";", 1)[0]
    return None


def test_the_cookie_is_only_an_id_and_the_message_stays_on_the_server(client, auth, db):
    """A flash message naming a patient's document travels in no cookie: the cookie is a
    random id, the message is kept (encrypted) on the server and shown on the next page."""
    doctor = make_practitioner()
    patient = make_patient(name="Evelyn Tremblay")
    name = "Tremblay knee clearance.pdf"
    doc = make_document(patient, name=name)
    auth.login(doctor)
    client.get(f"/clinic/patients/{patient.patient.public_id}/documents")

    response = client.post(f"/clinic/documents/{doc.public_id}/accept",
                           data={f"accept-{doc.public_id}-valid_until": "",
                                 f"accept-{doc.public_id}-letter_date": "2026-01-05"})
    assert response.status_code == 303
    value = _set_cookie_value(response) or _cookie(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
    decoded = base64.urlsafe_b64decode(value + "=")
    assert len(decoded) == 32  # 256 random bits, and nothing else
    for secret in (name, "Tremblay", doctor.public_id, "_flashes"):
        assert secret not in value and secret.encode() not in decoded
    row = _browser_row(db, value)
    assert row is not None and name.encode() not in row.data  # encrypted at rest

    page = client.get(response.location).get_data(as_text=True)
    assert f"{name} accepted." in page
    # Shown once: the message leaves the server's session with it.
    assert f"{name} accepted." not in client.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize("cookie", [
    "unknown-id-that-the-portal-never-made-000000",  # the shape of an id, and no row
    "eyJfZmxhc2hlcyI6W119.Z0x0bQ.c2lnbmF0dXJl",     # a signed cookie of the old kind
    "not an id at all",
])
def test_a_forged_or_unknown_id_gets_a_fresh_empty_session(client, new_client, db, cookie):
    patient = make_patient()
    browser = _with_cookie(new_client, cookie)
    assert not _signed_in(browser, patient)
    with browser.session_transaction() as session:
        assert "sid" not in session and "_flashes" not in session
    # Once there is something to keep, it is kept under a new id, never the one brought.
    browser.get("/auth/login")
    assert browser.post("/lang", data={"lang": "fr_CA", "next": "/"}).status_code == 303
    kept = _cookie(browser)
    assert kept != cookie and _browser_row(db, kept) is not None
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 1


def test_looking_at_public_pages_writes_no_session(client, auth, db):
    """A visitor who only looks (and even fails to sign in) costs no row: the sign-in
    form's CSRF token is bound to the cookie's id, not stored."""
    patient = make_patient()
    assert client.get("/auth/login").status_code == 200
    assert _cookie(client) is not None
    assert client.post("/auth/login", data={"email": patient.email,
                                             "password": "not the password"}).status_code == 422
    client.get("/auth/reset")
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 0

    assert auth.login(patient).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 1


def test_sign_out_deletes_the_server_row(client, auth, db):
    patient = make_patient()
    auth.login(patient)
    signed_in = _cookie(client)
    assert _browser_row(db, signed_in) is not None
    auth.logout()
    assert _browser_row(db, signed_in) is None
    # The "you have signed out" message is kept under a new id, until it is shown.
    assert _cookie(client) != signed_in
    assert "You have signed out." in client.get("/auth/login").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 0


def test_expired_sessions_are_swept(client, auth, new_client, db):
    patient = make_patient()
    auth.login(patient)
    idle = new_client()
    Auth(idle).login(patient)
    cookie = _cookie(client)
    for _ in range(14):  # this browser keeps coming back (11 h 40 min), the other one not
        clock.advance(minutes=50)
        assert _signed_in(client, patient)
    assert session_store.sweep() == 0
    clock.advance(minutes=21)  # 12 h 01 min after the other one's last request
    assert session_store.sweep() == 1
    assert _browser_row(db, cookie) is not None
    assert _browser_row(db, _cookie(idle)) is None
    clock.advance(hours=12, minutes=1)
    assert session_store.sweep() == 1
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 0


# --- rotation -------------------------------------------------------------------------

def test_session_id_rotates_at_login(app, client, auth, new_client):
    patient = make_patient()
    client.get("/auth/login")
    anonymous = _cookie(client)
    assert anonymous is not None and _sid(app, client) is None

    auth.login(patient)
    first = _sid(app, client)
    assert first
    auth.logout()
    auth.login(patient)
    second = _sid(app, client)
    assert second and second != first

    # The cookie from before sign-in does not carry the signed-in session.
    assert not _signed_in(_with_cookie(new_client, anonymous), patient)


def test_session_id_planted_before_login_is_not_accepted(app, client, auth, new_client, db):
    """Session fixation: an attacker plants a cookie whose session id they know; after the
    victim signs in, that id must not be the victim's session."""
    patient = make_patient()
    planted = "attacker-knows-this-session-id-0123456789xy"
    assert len(planted) == 43
    client.set_cookie(COOKIE, planted)
    assert not _signed_in(client, patient)
    client.set_cookie(COOKIE, planted)

    assert auth.login(patient).status_code == 303
    assert _signed_in(client, patient)
    assert _cookie(client) != planted
    assert _browser_row(db, planted) is None
    assert db.session.scalar(select(UserSession).where(
        UserSession.token_hash == token_hash(planted))) is None
    attacker = _with_cookie(new_client, planted)
    assert not _signed_in(attacker, patient)


def test_a_real_anonymous_session_planted_before_login_is_not_carried_over(
        client, auth, new_client, db):
    """The same with an id the portal did make: the attacker's own anonymous session (a
    language chosen, so it has a row)."""
    patient = make_patient()
    attacker = new_client()
    attacker.get("/auth/login")
    assert attacker.post("/lang", data={"lang": "fr_CA", "next": "/"}).status_code == 303
    planted = _cookie(attacker)
    assert _browser_row(db, planted) is not None

    client.set_cookie(COOKIE, planted)
    assert auth.login(patient).status_code == 303
    assert _signed_in(client, patient)
    assert _cookie(client) != planted
    assert _browser_row(db, planted) is None
    assert not _signed_in(_with_cookie(new_client, planted), patient)


# --- password change, deactivation, sign out elsewhere ---------------------------------

def test_password_change_revokes_every_other_session(app, client, auth, new_client, db):
    patient = make_patient()
    auth.login(patient)
    laptop_cookie = _cookie(client)
    phone = new_client()
    Auth(phone).login(patient)
    assert _signed_in(phone, patient) and _signed_in(client, patient)

    client.get("/auth/account")
    response = client.post("/auth/account/password", data={
        "current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)

    assert _signed_in(client, patient)            # this browser stays signed in,
    assert not _signed_in(phone, patient)         # the other one is out,
    # and so is this browser's cookie from before the change (the id rotated).
    assert not _signed_in(_with_cookie(new_client, laptop_cookie), patient)
    live = [s for s in _sessions(db, patient) if s.revoked_at is None]
    assert len(live) == 1 and live[0].token_hash == token_hash(_sid(app, client))


def test_wrong_current_password_changes_nothing(client, auth, new_client, db):
    patient = make_patient()
    auth.login(patient)
    phone = new_client()
    Auth(phone).login(patient)
    client.get("/auth/account")
    response = client.post("/auth/account/password", data={
        "current": "not my password at all", "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert _signed_in(phone, patient) and _signed_in(client, patient)


def test_deactivation_ends_the_practitioners_sessions(client, auth, new_client, db):
    doctor = make_practitioner()
    admin = make_admin()
    auth.login(doctor)
    assert _signed_in(client, doctor)
    doctor_cookie = _cookie(client)

    admin_browser = new_client()
    Auth(admin_browser).login(admin)
    admin_browser.get("/admin/")
    response = admin_browser.post(f"/admin/staff/{doctor.public_id}/deactivate")
    assert response.status_code == 303
    assert not _signed_in(client, doctor)
    assert all(s.revoked_at is not None for s in _sessions(db, doctor))

    # Reactivating the account does not bring the old session back.
    admin_browser.get("/admin/")
    assert admin_browser.post(f"/admin/staff/{doctor.public_id}/reactivate"
                              ).status_code == 303
    assert not _signed_in(_with_cookie(new_client, doctor_cookie), doctor)
    assert _signed_in(admin_browser, admin)


def test_sign_out_on_all_other_devices(app, client, auth, new_client, db):
    patient = make_patient()
    auth.login(patient)
    others = [new_client() for _ in range(2)]
    for other in others:
        Auth(other).login(patient)
    stranger = make_patient()
    stranger_browser = new_client()
    Auth(stranger_browser).login(stranger)

    client.get("/auth/account")
    assert client.post("/auth/account/sessions/revoke").status_code == 303
    assert _signed_in(client, patient)
    assert not any(_signed_in(other, patient) for other in others)
    assert _signed_in(stranger_browser, stranger)  # other people's sessions are untouched
    event = db.session.scalar(select(AuditEvent)
                              .where(AuditEvent.action == "session.revoked_others"))
    assert event.actor_id == patient.id and '"count": 2' in event.detail


def test_revoke_other_sessions_needs_post_and_csrf(client, auth):
    patient = make_patient()
    auth.login(patient)
    assert client.get("/auth/account/sessions/revoke").status_code == 405
    assert client.post("/auth/account/sessions/revoke", csrf=False).status_code == 400


# --- time limits ----------------------------------------------------------------------

def test_patient_idle_timeout_is_60_minutes(client, auth):
    patient = make_patient()
    auth.login(patient)
    clock.advance(minutes=59)
    assert _signed_in(client, patient)
    clock.advance(minutes=59)  # idle time counts from the last request
    assert _signed_in(client, patient)
    clock.advance(minutes=61)
    assert not _signed_in(client, patient)
    clock.reset()  # coming back does not revive it
    assert not _signed_in(client, patient)


def test_staff_idle_timeout_is_30_minutes(client, auth):
    doctor = make_practitioner()
    auth.login(doctor)
    clock.advance(minutes=29)
    assert _signed_in(client, doctor)
    clock.advance(minutes=31)
    assert not _signed_in(client, doctor)


def test_idle_timeouts_are_configurable(app, client, auth):
    from datetime import timedelta
    app.config["IDLE_TIMEOUT_PATIENT"] = timedelta(minutes=10)
    patient = make_patient()
    auth.login(patient)
    clock.advance(minutes=11)
    assert not _signed_in(client, patient)


def test_absolute_lifetime_is_12_hours_even_when_active(client, auth):
    patient = make_patient()
    auth.login(patient)
    for _ in range(35):  # up to 11 h 40 min, a request every 20 minutes
        clock.advance(minutes=20)
        assert _signed_in(client, patient)
    clock.advance(minutes=21)  # 12 h 01 min after sign-in
    assert not _signed_in(client, patient)


def test_sign_in_page_explains_an_idle_sign_out(client, auth):
    patient = make_patient()
    auth.login(patient)
    clock.advance(minutes=61)
    page = client.get("/me/", follow_redirects=True)
    assert page.request.path == "/auth/login"
    assert "inactivity" in page.get_data(as_text=True)
    # Said once, not on every later visit.
    assert "inactivity" not in client.get("/auth/login").get_data(as_text=True)


def test_sign_in_page_says_nothing_of_inactivity_after_a_sign_out(client, auth):
    patient = make_patient()
    auth.login(patient)
    auth.logout()
    page = client.get("/me/", follow_redirects=True)
    assert page.request.path == "/auth/login"
    assert "inactivity" not in page.get_data(as_text=True)
