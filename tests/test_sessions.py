"""Server-side sessions (SPEC 1.4): sign-out, password change, deactivation and "sign out
everywhere" end sessions for real; idle and absolute limits; the id rotates at sign-in."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock
from portal.crypto import token_hash
from portal.models import AuditEvent, UserSession
from tests.conftest import Auth
from tests.factories import PASSWORD, make_admin, make_patient, make_practitioner

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
    value = _cookie(c)
    if value is None:
        return None
    return app.session_interface.get_signing_serializer(app).loads(value).get("sid")


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
    planted = "attacker-knows-this-session-id-0123456789"
    serializer = app.session_interface.get_signing_serializer(app)
    client.set_cookie(COOKIE, serializer.dumps({"sid": planted}))
    assert not _signed_in(client, patient)
    client.set_cookie(COOKIE, serializer.dumps({"sid": planted}))

    assert auth.login(patient).status_code == 303
    assert _signed_in(client, patient)
    assert _sid(app, client) != planted
    assert db.session.scalar(select(UserSession).where(
        UserSession.token_hash == token_hash(planted))) is None
    attacker = _with_cookie(new_client, serializer.dumps({"sid": planted}))
    assert not _signed_in(attacker, patient)


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
