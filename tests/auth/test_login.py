"""SPEC 1.1, 1.3, 1.6: sign-in lands on the role's home, `next` stays on the site, accounts
lock with growing delays, the limiter answers 429 per IP and per account."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.models import AuditEvent
from tests.auth.helpers import fresh, html, outbox, sign_in
from tests.factories import PASSWORD, make_admin, make_patient, make_practitioner, make_user

LOCKED = "Too many failed attempts"
INVALID = "That e-mail address and password do not match an account."
# The lockout tests try one account more often than the default per-account limit allows.
NO_LIMITS = {"LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute", "LOGIN_LIMIT_PER_IP": "1000 per minute"}


def fail(client, user, times=1):
    for _ in range(times):
        response = client.post("/auth/login", data={"email": user.email,
                                                    "password": "wrong password, sorry"})
        assert response.status_code == 422
    return response


@pytest.mark.parametrize("make, home", [
    (make_patient, "/me/"), (make_practitioner, "/clinic/"), (make_admin, "/clinic/"),
])
def test_sign_in_lands_on_the_roles_home(client, make, home):
    user = make()
    response = sign_in(client, user)
    assert response.status_code == 303
    assert response.location.endswith(home)
    assert client.get(home).status_code == 200
    # The front door now goes home too.
    assert client.get("/").location.endswith(home)


def test_email_is_matched_without_case_or_spaces(client):
    make_patient(email="mixed@example.org")
    response = client.post("/auth/login", data={"email": "  Mixed@Example.ORG ",
                                                "password": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/me/")


def test_sign_in_rotates_the_session(client):
    patient = make_patient()
    client.get("/auth/login")
    before = client.get_cookie("portal_session").value
    sign_in(client, patient)
    after = client.get_cookie("portal_session").value
    assert after != before


def test_next_is_honoured_for_a_same_site_path(client):
    patient = make_patient()
    page = client.get("/auth/login?next=/me/progress")
    assert 'action="/auth/login?next=/me/progress"' in html(page).replace("%2F", "/")
    response = sign_in(client, patient, next_url="/me/progress")
    assert response.status_code == 303
    assert response.location.endswith("/me/progress")


def test_next_survives_the_second_factor(client):
    admin = make_admin()
    response = sign_in(client, admin, next_url="/admin/")
    assert response.status_code == 303 and response.location.endswith("/admin/")


@pytest.mark.parametrize("target", [
    "//evil.example", "//evil.example/me/", "https://evil.example", "http://evil.example/me/",
    "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "evil.example",
    " //evil.example", "/%0a/evil.example".replace("%0a", "\n"),
])
def test_next_is_ignored_unless_it_is_a_same_site_path(client, target):
    patient = make_patient()
    response = client.post("/auth/login", query_string={"next": target},
                           data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.location == "/me/"
    # And the sign-in form does not carry it either.
    client.post("/auth/logout")
    page = html(client.get("/auth/login", query_string={"next": target}))
    assert '<form id="login-form" method="post" action="/auth/login"\n' in page


def test_a_signed_in_user_visiting_sign_in_goes_home(client):
    doctor = make_practitioner()
    sign_in(client, doctor)
    response = client.get("/auth/login")
    assert response.status_code in (302, 303)
    assert response.location.endswith("/clinic/")


def test_sign_out_is_post_only_and_ends_the_session(client):
    patient = make_patient()
    sign_in(client, patient)
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/me/").status_code == 200
    assert client.post("/auth/logout", csrf=False).status_code == 400
    assert client.get("/me/").status_code == 200
    response = client.post("/auth/logout")
    assert response.status_code == 303 and response.location.endswith("/auth/login")
    assert client.get("/me/").location.startswith("/auth/login")


def test_deactivated_users_cannot_sign_in(client):
    user = make_practitioner(active=False)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 422
    assert INVALID in html(response)
    assert client.get("/auth/mfa").location.endswith("/auth/login")


def test_unconfirmed_self_registered_patients_are_told_to_confirm(client, db):
    patient = make_patient(confirmed=False)
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 422
    assert "Please confirm your e-mail address first" in html(response)
    assert client.get("/me/").status_code in (302, 303)
    # A new confirmation link is on its way.
    assert [m.kind for m in outbox(patient.email)] == ["confirm_email"]


def test_unconfirmed_with_a_wrong_password_learns_nothing(client):
    patient = make_patient(confirmed=False)
    response = client.post("/auth/login", data={"email": patient.email,
                                                "password": "not the password"})
    assert INVALID in html(response)
    assert outbox(patient.email) == []


def test_missing_fields_are_shown_by_the_fields(client):
    response = client.post("/auth/login", data={"email": "", "password": ""})
    assert response.status_code == 422
    page = html(response)
    assert 'id="email-error"' in page and 'id="password-error"' in page


def test_sign_in_without_a_csrf_token_is_refused(client):
    patient = make_patient()
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD},
                           csrf=False)
    assert response.status_code == 400
    assert client.get("/me/").status_code in (302, 303)


def test_sign_ins_and_failures_are_audited(client, db):
    patient = make_patient()
    fail(client, patient)
    sign_in(client, patient)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["login.failed", "login.succeeded"]


# --- lockout (SPEC 1.6) -----------------------------------------------------------------

@pytest.mark.parametrize("app_config", [NO_LIMITS], ids=["no-limiter"])
def test_the_account_locks_after_the_threshold_even_for_the_right_password(client, app):
    patient = make_patient()
    threshold = app.config["LOCKOUT_THRESHOLD"]
    assert threshold == 5
    fail(client, patient, threshold - 1)
    assert fresh(patient).locked_until is None
    fail(client, patient)
    assert fresh(patient).locked_until > clock.now()

    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 422
    assert LOCKED in html(response)
    assert client.get("/me/").status_code in (302, 303)

    clock.advance(minutes=1, seconds=1)
    response = sign_in(client, patient)
    assert response.status_code == 303 and response.location.endswith("/me/")
    patient = fresh(patient)
    assert patient.failed_logins == 0 and patient.locked_until is None


@pytest.mark.parametrize("app_config", [NO_LIMITS], ids=["no-limiter"])
def test_each_further_round_of_failures_locks_for_longer(client, app):
    patient = make_patient()
    fail(client, patient, 5)
    first = fresh(patient).locked_until - clock.now()
    assert timedelta(seconds=59) < first <= timedelta(minutes=1)

    clock.advance(minutes=1, seconds=1)
    fail(client, patient)                      # locked again at once, for longer
    second = fresh(patient).locked_until - clock.now()
    assert second > first
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert LOCKED in html(response)

    clock.advance(minutes=1, seconds=1)        # the first delay is not enough any more
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert LOCKED in html(response)

    clock.advance(minutes=1)
    assert sign_in(client, patient).status_code == 303


@pytest.mark.parametrize("app_config", [NO_LIMITS], ids=["no-limiter"])
def test_lockout_is_per_account(client):
    locked, other = make_patient(), make_patient()
    fail(client, locked, 5)
    assert sign_in(client, other).status_code == 303


@pytest.mark.parametrize("app_config", [NO_LIMITS], ids=["no-limiter"])
def test_unknown_addresses_are_not_told_apart_by_locking(client, app, db):
    """An address without an account gets the answers an account would get: invalid, then
    paused after the same number of failures, for the same time, longer each round."""
    patient = make_patient()
    nobody = "Nobody@Example.org"

    def answers(email: str, times: int) -> list[str]:
        out = []
        for _ in range(times):
            page = html(client.post("/auth/login",
                                    data={"email": email, "password": "wrong password, sorry"}))
            out.append("locked" if LOCKED in page else "invalid" if INVALID in page else page)
        return out

    threshold = app.config["LOCKOUT_THRESHOLD"]
    expected = ["invalid"] * (threshold - 1) + ["locked", "locked"]
    assert answers(patient.email, threshold + 1) == expected
    assert answers(nobody, threshold + 1) == expected
    clock.advance(minutes=1, seconds=1)
    # One more failure each: paused again at once, and now for longer than a minute.
    assert answers(patient.email, 1) == answers(nobody, 1) == ["locked"]
    clock.advance(minutes=1, seconds=1)
    assert answers(patient.email, 1) == answers(nobody, 1) == ["locked"]
    # Failures with another address do not pause this one.
    assert answers("someone.else@example.org", 1) == ["invalid"]
    # A day later the unknown address starts again from nothing.
    clock.advance(hours=25)
    assert answers(nobody, 1) == ["invalid"]


# --- rate limits (SPEC 1.6) -------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute"}],
                         ids=["3-per-account"])
def test_sign_in_is_rate_limited_per_account(client):
    patient, other = make_patient(), make_patient()
    for _ in range(3):
        assert fail(client, patient).status_code == 422
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 429
    page = html(response)
    assert "Too many attempts" in page and "Please wait a few minutes" in page
    assert "<html" in page  # a whole, friendly page
    # Same account from another address: still limited.
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 429
    # Another account from this address is not.
    assert sign_in(client, other).status_code == 303
    assert client.get("/auth/login").status_code in (302, 303)  # GET is not limited


@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_IP": "3 per minute"}],
                         ids=["3-per-ip"])
def test_sign_in_is_rate_limited_per_ip(client, app):
    patients = [make_patient() for _ in range(4)]
    for patient in patients[:3]:
        assert fail(client, patient).status_code == 422
    response = client.post("/auth/login", data={"email": patients[3].email,
                                                "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in html(response)
    # The same request from another address goes through.
    other = app.test_client()
    response = other.post("/auth/login", data={"email": patients[3].email, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 303


@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_IP": "2 per minute"}],
                         ids=["2-per-ip"])
def test_the_second_factor_is_rate_limited_too(client):
    doctor = make_practitioner()
    client.post("/auth/login", data={"email": doctor.email, "password": PASSWORD})
    assert client.post("/auth/mfa", data={"code": "000000"}).status_code == 422
    assert client.post("/auth/mfa", data={"code": "000000"}).status_code == 422
    assert client.post("/auth/mfa", data={"code": "000000"}).status_code == 429


@pytest.mark.parametrize("app_config", [{"LOGIN_LIMIT_PER_ACCOUNT": "2 per minute"}],
                         ids=["2-per-account"])
def test_htmx_gets_the_429_in_the_flash_region(htmx_client):
    patient = make_patient()
    for _ in range(2):
        htmx_client.post("/auth/login", data={"email": patient.email, "password": "nope"})
    response = htmx_client.post("/auth/login", data={"email": patient.email, "password": "nope"})
    assert response.status_code == 429
    assert response.headers["HX-Retarget"] == "#flash"
    assert "Too many attempts" in html(response)


def test_a_staff_account_without_totp_must_enrol(client):
    doctor = make_user("practitioner", mfa=False)
    response = client.post("/auth/login", data={"email": doctor.email, "password": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/mfa/setup")
    assert client.get("/clinic/").status_code in (302, 303)
