"""SPEC 1.3: password reset by e-mail: the same answer whether or not the address exists,
a single-use link valid one hour, no automatic sign-in, every session revoked."""
from __future__ import annotations

import pytest

from portal import clock, passwords
from tests.auth.helpers import (
    deliver,
    field_error,
    fresh,
    html,
    outbox,
    path_of,
    sign_in,
    without_csrf,
)
from tests.factories import PASSWORD, make_patient, make_practitioner

NEW_PASSWORD = "seven otters under the bridge"


@pytest.fixture
def patient():
    return make_patient(email="known@example.org")


def ask(client, email):
    return client.post("/auth/reset", data={"email": email})


def reset_link(client, runner, smtp_server, email="known@example.org"):
    assert ask(client, email).status_code == 200
    deliver(runner)
    return path_of(smtp_server.last_link("/auth/reset/"))


def test_known_and_unknown_addresses_get_the_same_answer(client, app, patient, mail_app,
                                                         runner, smtp_server):
    other = app.test_client()
    known = ask(client, "known@example.org")
    unknown = ask(other, "unknown@example.org")

    assert known.status_code == unknown.status_code == 200
    assert "Check your e-mail" in html(known)
    assert (without_csrf(html(known)).replace("known@example.org", "EMAIL")
            == without_csrf(html(unknown)).replace("unknown@example.org", "EMAIL"))
    varying = {"Set-Cookie", "Content-Length"}  # the session, the address echoed
    assert ({k: v for k, v in known.headers if k not in varying}
            == {k: v for k, v in unknown.headers if k not in varying})

    # Only the owner of a real account gets a message.
    deliver(runner)
    assert [m["To"] for m in smtp_server.parsed()] == ["known@example.org"]
    assert outbox("unknown@example.org") == []


def test_deactivated_and_invited_accounts_get_no_link(client, mail_app, runner, smtp_server):
    gone = make_patient(active=False)
    invited = make_patient(password=None)
    for user in (gone, invited):
        response = ask(client, user.email)
        assert response.status_code == 200 and "Check your e-mail" in html(response)
    deliver(runner)
    assert smtp_server.messages == []


def test_a_bad_address_is_shown_by_the_field(client):
    response = ask(client, "not-an-address")
    assert response.status_code == 422
    assert field_error(html(response), "email")


def test_the_link_sets_a_new_password_once_and_does_not_sign_in(
        client, patient, mail_app, runner, smtp_server):
    link = reset_link(client, runner, smtp_server)
    body = smtp_server.parsed()[-1].get_body(preferencelist=("plain",)).get_content()
    assert "60" in body or "hour" in body

    page = client.get(link)
    assert page.status_code == 200 and 'name="password"' in html(page)
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 422

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/login")
    # No automatic sign-in.
    assert client.get("/me/").location.startswith("/auth/login")
    assert passwords.verify(fresh(patient).password_hash, NEW_PASSWORD)

    # Once only.
    again = client.post(link, data={"password": "another fine password", "confirm":
                                    "another fine password"})
    assert again.status_code == 404 and "This link no longer works" in html(again)
    assert client.get(link).status_code == 404

    # The old password is gone, the new one works.
    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 422
    assert sign_in(client, patient, NEW_PASSWORD).location.endswith("/me/")


def test_the_link_expires_after_one_hour(client, patient, mail_app, runner, smtp_server):
    link = reset_link(client, runner, smtp_server)
    clock.advance(minutes=59)
    assert client.get(link).status_code == 200
    clock.advance(minutes=1, seconds=1)
    response = client.get(link)
    assert response.status_code == 404 and "Ask for a new link" in html(response)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 404
    assert passwords.verify(fresh(patient).password_hash, PASSWORD)


def test_a_newer_link_replaces_the_older_one(client, patient, mail_app, runner, smtp_server):
    first = reset_link(client, runner, smtp_server)
    second = reset_link(client, runner, smtp_server)
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_a_reset_signs_the_user_out_everywhere(client, app, patient, mail_app, runner,
                                               smtp_server):
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, patient)
    sign_in(laptop, patient)
    assert phone.get("/me/").status_code == 200 and laptop.get("/me/").status_code == 200

    link = reset_link(client, runner, smtp_server)
    assert laptop.post(link, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 303
    for device in (phone, laptop):
        response = device.get("/me/")
        assert response.status_code in (302, 303)
        assert response.location.startswith("/auth/login")


def test_a_reset_clears_the_lockout(client, patient, mail_app, runner, smtp_server, app):
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        client.post("/auth/login", data={"email": patient.email, "password": "wrong password!"})
    assert fresh(patient).locked_until > clock.now()

    link = reset_link(client, runner, smtp_server)
    assert client.post(link, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 303
    patient = fresh(patient)
    assert patient.failed_logins == 0 and patient.locked_until is None
    assert sign_in(client, patient, NEW_PASSWORD).location.endswith("/me/")


def test_staff_still_need_their_second_factor_after_a_reset(client, mail_app, runner,
                                                            smtp_server):
    doctor = make_practitioner(email="doc@example.org")
    link = reset_link(client, runner, smtp_server, "doc@example.org")
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    response = client.post("/auth/login", data={"email": doctor.email,
                                                "password": NEW_PASSWORD})
    assert response.location.endswith("/auth/mfa")
    assert client.get("/clinic/").status_code in (302, 303)
