"""SPEC 1.2: self-registration is a clinic option, off by default; self-registered patients
confirm their address before they can sign in."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import passwords
from portal.models import User
from tests.auth.helpers import deliver, field_error, html, outbox, path_of, sign_in, without_csrf
from tests.factories import PASSWORD, make_admin, make_patient

NEW_PASSWORD = "tea kettle on the woodstove"
FORM = {"name": "Walt Visitor", "email": "walt@example.org", "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}


@pytest.fixture
def registration_open(client, other_client):
    """An admin turns self-registration on through the settings form; returns the
    visitor's browser."""
    admin = make_admin()
    sign_in(client, admin)
    response = client.post("/admin/settings", data={
        "name": "IMS Clinic", "timezone": "America/Vancouver", "self_registration": "y",
        "retention_years": "10", "follow_up_first_weeks": "6", "follow_up_second_weeks": "12"})
    assert response.status_code == 303, html(response)
    return other_client


def test_registration_is_closed_by_default(client, db):
    assert client.get("/auth/register").status_code == 404
    assert client.post("/auth/register", data=FORM).status_code == 404
    assert db.session.scalar(select(User).where(User.email == "walt@example.org")) is None
    assert "/auth/register" not in html(client.get("/auth/login"))


def test_a_visitor_registers_confirms_and_signs_in(registration_open, mail_app, runner,
                                                   smtp_server, db):
    visitor = registration_open
    assert 'href="/auth/register"' in html(visitor.get("/auth/login"))
    assert visitor.get("/auth/register").status_code == 200

    response = visitor.post("/auth/register", data=FORM)
    assert response.status_code == 200
    assert "Check your e-mail" in html(response)
    deliver(runner)
    assert [m["To"] for m in smtp_server.parsed()] == ["walt@example.org"]
    first_link = path_of(smtp_server.last_link("/auth/confirm/"))

    user = db.session.scalar(select(User).where(User.email == "walt@example.org"))
    assert user.role == "patient" and user.email_confirmed_at is None
    assert user.patient is not None

    # Not before confirming; trying sends a fresh link (the older one stops working).
    response = visitor.post("/auth/login", data={"email": FORM["email"],
                                                 "password": NEW_PASSWORD})
    assert response.status_code == 422
    assert "Please confirm your e-mail address first" in html(response)
    assert visitor.get("/me/").status_code in (302, 303)
    deliver(runner)
    link = path_of(smtp_server.last_link("/auth/confirm/"))
    assert link != first_link
    assert visitor.get(first_link).status_code == 404

    # GET only shows a button (mail scanners follow links); POST confirms.
    page = visitor.get(link)
    assert page.status_code == 200 and "Confirm my address" in html(page)
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is None
    response = visitor.post(link)
    assert response.status_code == 303 and response.location.endswith("/auth/login")
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is not None
    assert visitor.post(link).status_code == 404  # once

    response = sign_in(visitor, FORM["email"], NEW_PASSWORD)
    assert response.status_code == 303 and response.location.endswith("/me/")
    assert "Walt Visitor" in html(visitor.get("/me/"))


def test_registering_an_existing_address_sends_the_owner_a_note(registration_open, mail_app,
                                                                runner, smtp_server, db):
    visitor = registration_open
    owner = make_patient(email="owner@example.org", name="Olive Owner")
    response = visitor.post("/auth/register", data={**FORM, "email": "Owner@Example.org",
                                                    "name": "Someone Else"})
    fresh_response = visitor.post("/auth/register", data=FORM)
    assert response.status_code == fresh_response.status_code == 200
    assert "Check your e-mail" in html(response)
    assert (without_csrf(html(response)).replace("owner@example.org", "EMAIL")
            == without_csrf(html(fresh_response)).replace("walt@example.org", "EMAIL"))

    count = db.session.scalar(select(func.count()).select_from(User)
                              .where(User.email == "owner@example.org"))
    assert count == 1
    db.session.expire_all()
    owner = db.session.get(User, owner.id)
    assert owner.name == "Olive Owner"
    assert passwords.verify(owner.password_hash, PASSWORD)

    assert [m.kind for m in outbox("owner@example.org")] == ["register_existing"]
    deliver(runner)
    note = next(m for m in smtp_server.parsed() if m["To"] == "owner@example.org")
    body = note.get_body(preferencelist=("plain",)).get_content()
    assert "you already have one" in body and "/auth/reset" in body


def test_registration_checks_its_fields(registration_open, db):
    visitor = registration_open
    response = visitor.post("/auth/register", data={
        "name": "", "email": "bad", "password": "password1234", "confirm": "password1234"})
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "name") and field_error(page, "email")
    assert "too common" in field_error(page, "password")
    assert db.session.scalar(select(User).where(User.role == "patient")) is None


def test_turning_registration_off_closes_it_again(client, registration_open):
    response = client.post("/admin/settings", data={
        "name": "IMS Clinic", "timezone": "America/Vancouver", "retention_years": "10",
        "follow_up_first_weeks": "6", "follow_up_second_weeks": "12"})
    assert response.status_code == 303
    assert registration_open.get("/auth/register").status_code == 404
