"""SPEC 1.2: patients (by practitioners) and practitioners (by admins) join by invitation:
one e-mail, a single-use link valid 7 days and stored hashed, a password, and they are in."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.models import AccountToken, Patient, User
from tests.auth.helpers import (
    code_for,
    deliver,
    field_error,
    fresh,
    html,
    input_value,
    path_of,
    recovery_codes_on_page,
    sign_in,
    start_of_step,
    totp_secret_on_page,
)
from tests.factories import make_admin, make_patient, make_practitioner

NEW_PASSWORD = "blue heron over the fraser"


@pytest.fixture
def practitioner(client):
    doctor = make_practitioner(name="Dr. Ada Wong")
    assert sign_in(client, doctor).location.endswith("/clinic/")
    return doctor


def invite_patient(client, runner, smtp_server, email="ruth@example.org", name="Ruth Park"):
    response = client.post("/clinic/invitations", data={"name": name, "email": email})
    assert response.status_code == 303, html(response)
    deliver(runner)
    return path_of(smtp_server.last_link("/auth/invite/"))


def user_by_email(db, email):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_practitioner_invites_a_patient_who_sets_a_password_and_is_in(
        client, other_client, practitioner, mail_app, runner, smtp_server, db):
    link = invite_patient(client, runner, smtp_server)

    # One message, to the patient, with the link and no health information.
    assert len(smtp_server.messages) == 1
    message = smtp_server.parsed()[0]
    assert message["To"] == "ruth@example.org"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "7 days" in body

    patient = user_by_email(db, "ruth@example.org")
    assert patient.role == "patient" and patient.password_hash is None
    assert patient.patient.status == "invited"
    assert patient.patient.practitioner_id == practitioner.id
    assert "Ruth Park" in html(client.get("/clinic/"))  # listed as not yet accepted

    page = other_client.get(link)
    assert page.status_code == 200
    assert "Welcome, Ruth Park" in html(page)
    assert 'name="password"' in html(page) and 'name="confirm"' in html(page)

    response = other_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.location.endswith("/me/")
    home = other_client.get("/me/")
    assert home.status_code == 200 and "Ruth Park" in html(home)

    patient = fresh(patient)
    assert patient.password_hash.startswith("$argon2id$")
    assert patient.email_confirmed_at is not None
    assert patient.patient.status == "intake_in_progress"


def test_the_set_password_form_applies_the_password_rules(
        client, other_client, practitioner, mail_app, runner, smtp_server):
    link = invite_patient(client, runner, smtp_server)
    response = other_client.post(link, data={"password": "short one", "confirm": "short one"})
    assert response.status_code == 422
    assert "at least 12 characters" in field_error(html(response), "password")
    # Still usable after a refused attempt.
    assert other_client.get(link).status_code == 200


def test_an_invitation_link_works_once(client, other_client, practitioner, mail_app, runner,
                                       smtp_server, app):
    link = invite_patient(client, runner, smtp_server)
    assert other_client.post(link, data={"password": NEW_PASSWORD,
                                         "confirm": NEW_PASSWORD}).status_code == 303

    third = app.test_client()
    for response in (third.get(link),
                     third.post(link, data={"password": "another long password here",
                                            "confirm": "another long password here"})):
        assert response.status_code == 404
        assert "This link no longer works" in html(response)


def test_an_invitation_expires_after_seven_days(client, other_client, practitioner, mail_app,
                                                runner, smtp_server):
    link = invite_patient(client, runner, smtp_server)
    clock.advance(days=6, hours=23, minutes=59)
    assert other_client.get(link).status_code == 200

    clock.advance(minutes=1, seconds=1)
    response = other_client.get(link)
    assert response.status_code == 404
    assert "no longer works" in html(response)
    response = other_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 404


def test_opening_an_invitation_while_signed_in_signs_no_one_out(
        client, practitioner, mail_app, runner, smtp_server, db):
    """A GET never signs anyone out: the page says who is signed in and offers a sign-out
    (a POST with its CSRF token) that comes back to the invitation."""
    link = invite_patient(client, runner, smtp_server)
    page = client.get(link)
    assert page.status_code == 200
    assert ("You are signed in as Dr. Ada Wong (" in html(page)
            and "Sign out to accept this invitation." in html(page))
    assert 'name="password"' not in html(page)
    assert client.get("/clinic/").status_code == 200  # still signed in
    # Posting the password form from an older tab changes nothing either.
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 409
    assert client.get("/clinic/").status_code == 200
    assert user_by_email(db, "ruth@example.org").password_hash is None

    client.get(link)
    assert client.post("/auth/logout", data={"next": link}, csrf=False).status_code == 400
    assert client.get("/clinic/").status_code == 200
    client.get(link)
    response = client.post("/auth/logout", data={"next": link})
    assert response.status_code == 303 and response.location == link
    page = client.get(link)
    assert "Welcome, Ruth Park" in html(page) and 'name="password"' in html(page)
    assert client.get("/clinic/").status_code in (302, 303)  # signed out now


def test_sign_out_goes_back_only_to_a_page_of_the_portal(client, practitioner):
    client.get("/clinic/")
    response = client.post("/auth/logout", data={"next": "//elsewhere.example/"})
    assert response.status_code == 303 and response.location.endswith("/auth/login")


def test_resending_makes_the_old_link_useless(client, other_client, practitioner, mail_app,
                                             runner, smtp_server, db):
    old = invite_patient(client, runner, smtp_server)
    patient = user_by_email(db, "ruth@example.org")

    response = client.post(f"/clinic/invitations/{patient.public_id}/resend")
    assert response.status_code == 303
    deliver(runner)
    new = path_of(smtp_server.last_link("/auth/invite/"))
    assert len(smtp_server.messages) == 2 and new != old

    assert other_client.get(old).status_code == 404
    assert other_client.get(new).status_code == 200
    # Still one account and one patient record.
    assert len(db.session.scalars(select(User).where(User.email == "ruth@example.org")).all()) == 1
    assert len(db.session.scalars(select(Patient).where(Patient.user_id == patient.id)).all()) == 1


def test_a_patient_cannot_resend_or_invite(other_client, db):
    patient = make_patient()
    sign_in(other_client, patient)
    invited = make_patient(password=None)
    assert other_client.post("/clinic/invitations",
                             data={"name": "X Y", "email": "x@example.org"}).status_code == 404
    assert other_client.post(
        f"/clinic/invitations/{invited.public_id}/resend").status_code == 404


def test_the_stored_token_is_hashed(client, practitioner, mail_app, runner, smtp_server, db):
    link = invite_patient(client, runner, smtp_server)
    raw = link.rsplit("/", 1)[1]
    assert len(raw) >= 40  # 256 random bits

    rows = db.session.execute(select(AccountToken.__table__)).all()
    assert len(rows) == 1
    for row in rows:
        assert all(raw not in str(value) for value in row)
    assert rows[0].token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert rows[0].purpose == "invite"
    valid_for = rows[0].expires_at - rows[0].created_at
    assert abs(valid_for - timedelta(days=7)) < timedelta(seconds=1)


def test_admin_invites_a_practitioner_who_must_set_up_totp_first(
        client, other_client, mail_app, runner, smtp_server, db):
    admin = make_admin()
    assert sign_in(client, admin).status_code == 303
    response = client.post("/admin/staff/invite", data={
        "name": "Dr. Sam Okafor", "email": "sam.okafor@example.org", "role": "practitioner"})
    assert response.status_code == 303, html(response)
    deliver(runner)
    message = smtp_server.parsed()[-1]
    assert message["To"] == "sam.okafor@example.org"
    assert "as a member of staff" in message.get_body(preferencelist=("plain",)).get_content()
    link = path_of(smtp_server.last_link("/auth/invite/"))
    staff = user_by_email(db, "sam.okafor@example.org")
    assert staff.role == "practitioner" and staff.patient is None

    response = other_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.location.endswith("/auth/mfa/setup")

    # Not signed in yet: the worklist and the account page send them to sign-in.
    for url in ("/clinic/", "/auth/account"):
        response = other_client.get(url)
        assert response.status_code in (302, 303)
        assert "/auth/login" in response.location
    setup = other_client.get("/auth/mfa/setup")
    assert setup.status_code == 200
    secret = totp_secret_on_page(html(setup))

    wrong = other_client.post("/auth/mfa/setup", data={"code": "000000"})
    assert wrong.status_code == 422
    assert other_client.get("/clinic/").status_code in (302, 303)

    start_of_step()
    done = other_client.post("/auth/mfa/setup", data={"code": code_for(secret)})
    assert done.status_code == 200
    assert len(recovery_codes_on_page(html(done))) == 10
    assert other_client.get("/clinic/").status_code == 200
    assert fresh(staff).mfa_enabled


def test_an_invited_practitioner_who_signs_in_again_is_sent_to_totp_setup(
        client, other_client, mail_app, runner, smtp_server, app):
    admin = make_admin()
    sign_in(client, admin)
    client.post("/admin/staff/invite", data={"name": "Dr. Kim", "email": "kim@example.org",
                                             "role": "admin"})
    deliver(runner)
    link = path_of(smtp_server.last_link("/auth/invite/"))
    other_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    later = app.test_client()
    response = sign_in(later, "kim@example.org", NEW_PASSWORD)
    assert response.status_code == 303 and response.location.endswith("/auth/mfa/setup")
    assert later.get("/auth/mfa").location.endswith("/auth/mfa/setup")
    assert later.get("/admin/").status_code in (302, 303)


def test_a_practitioner_cannot_invite_staff(client, practitioner, db):
    response = client.post("/admin/staff/invite", data={
        "name": "Dr. Sneaky", "email": "sneaky@example.org", "role": "admin"})
    assert response.status_code == 404
    assert client.get("/admin/").status_code == 404
    assert user_by_email(db, "sneaky@example.org") is None


def test_inviting_an_existing_account_shows_an_error_by_the_email_field(
        client, practitioner, db):
    existing = make_patient(email="taken@example.org")
    response = client.post("/clinic/invitations",
                           data={"name": "Someone Else", "email": "Taken@Example.org"})
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "email") == "An account with this e-mail address already exists."
    assert input_value(page, "name") == "Someone Else"
    assert fresh(existing).name != "Someone Else"


def test_inviting_a_staff_address_as_a_patient_is_refused(client, practitioner, db):
    response = client.post("/clinic/invitations",
                           data={"name": "Dr. Ada Wong", "email": practitioner.email})
    assert response.status_code == 422
    assert field_error(html(response), "email")
    assert fresh(practitioner).role == "practitioner"


@pytest.mark.parametrize("data, errors", [
    ({"name": "", "email": "ruth@example.org"}, {"name"}),
    ({"name": "Ruth Park", "email": "ruth@"}, {"email"}),
    ({"name": "   ", "email": "not-an-email"}, {"name", "email"}),
])
def test_invalid_invitation_input_is_shown_by_the_fields(client, practitioner, db, data, errors):
    response = client.post("/clinic/invitations", data=data)
    assert response.status_code == 422
    page = html(response)
    for name in ("name", "email"):
        assert bool(field_error(page, name)) == (name in errors), name
    # What was typed is still there.
    if data["name"].strip():
        assert input_value(page, "name") == data["name"]
    assert input_value(page, "email") == data["email"]
    assert 'class="error-summary"' in page
    assert db.session.scalar(select(User).where(User.role == "patient")) is None


def test_invalid_input_through_htmx_gets_the_form_fragment(htmx_client, db):
    doctor = make_practitioner()
    htmx_client.extra_headers = {}
    assert sign_in(htmx_client, doctor).status_code == 303
    htmx_client.get("/clinic/")  # a whole page, for its CSRF token
    htmx_client.extra_headers = {"HX-Request": "true"}
    response = htmx_client.post("/clinic/invitations", data={"name": "", "email": "bad"})
    assert response.status_code == 422
    page = html(response)
    assert page.lstrip().startswith('<div id="invite-panel"')
    assert field_error(page, "name") and field_error(page, "email")
