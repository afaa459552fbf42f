"""The invitation asks the patient's language, defaulting to the clinic's (SPEC 8.1): the
invitation and every later e-mail go out in the patient's language, not the inviter's."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.clinic_settings import current_settings
from portal.extensions import db as _db
from portal.models import User
from tests.auth.helpers import deliver, html, path_of, sign_in
from tests.factories import make_practitioner


@pytest.fixture
def practitioner(client):
    doctor = make_practitioner(name="Dr. Ada Wong", locale="en")
    assert sign_in(client, doctor).location.endswith("/clinic/")
    return doctor


def _selected(page: str, name: str = "locale") -> str | None:
    select_ = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select_, f"no {name} choice on the page"
    chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]+)"|'
                       r'<option[^>]*value="([^"]+)"[^>]*selected', select_.group(1))
    return (chosen.group(1) or chosen.group(2)) if chosen else None


def _user(email: str) -> User:
    _db.session.expire_all()
    user = _db.session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def test_a_french_speaking_patient_gets_the_french_invitation(
        client, other_client, practitioner, mail_app, runner, smtp_server, db):
    response = client.post("/clinic/invitations", data={
        "name": "Josée Tremblay", "email": "josee@example.org", "locale": "fr_CA"})
    assert response.status_code == 303, html(response)
    deliver(runner)
    message = smtp_server.parsed()[-1]
    assert message["To"] == "josee@example.org"
    assert message["Subject"].startswith("Votre invitation au portail patient")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "7 jours" in body and "7 days" not in body
    assert _user("josee@example.org").locale == "fr_CA"

    # Her pages are in French from the first one, and later e-mails too.
    link = path_of(smtp_server.last_link("/auth/invite/"))
    assert 'lang="fr-CA"' in html(other_client.get(link))
    password = "blue heron over the fraser"
    assert other_client.post(link, data={"password": password, "confirm": password}
                             ).status_code == 303
    other_client.post("/auth/logout")
    # A reset asked for from an English browser still goes out in her language.
    other_client.post("/auth/reset", data={"email": "josee@example.org"},
                      headers={"Accept-Language": "en"})
    deliver(runner)
    assert smtp_server.parsed()[-1]["Subject"].startswith("Réinitialisez votre mot de passe")


def test_the_form_defaults_to_the_clinics_language(client, practitioner, mail_app, runner,
                                                   smtp_server, db):
    assert _selected(html(client.get("/clinic/"))) == "en"
    current_settings().locale = "fr_CA"
    _db.session.commit()
    assert _selected(html(client.get("/clinic/"))) == "fr_CA"
    # A form that sends no language (an older page) invites in the clinic's language.
    response = client.post("/clinic/invitations",
                           data={"name": "Marc Roy", "email": "marc@example.org"})
    assert response.status_code == 303, html(response)
    deliver(runner)
    assert smtp_server.parsed()[-1]["Subject"].startswith("Votre invitation")
    assert _user("marc@example.org").locale == "fr_CA"


def test_the_choice_is_kept_on_a_validation_error(client, htmx_client, practitioner, db):
    data = {"name": "", "email": "josee@example.org", "locale": "fr_CA"}
    response = client.post("/clinic/invitations", data=data)
    assert response.status_code == 422
    assert _selected(html(response)) == "fr_CA"
    assert 'value="josee@example.org"' in html(response)


def test_an_unknown_language_is_refused(client, practitioner, db):
    response = client.post("/clinic/invitations", data={
        "name": "Ann Lee", "email": "ann@example.org", "locale": "de"})
    assert response.status_code == 422
    assert _db.session.scalar(select(User).where(User.email == "ann@example.org")) is None


def test_an_admin_chooses_a_new_colleagues_language(client, mail_app, runner, smtp_server, db):
    from tests.factories import make_admin
    admin = make_admin(locale="en")
    sign_in(client, admin)
    assert _selected(html(client.get("/admin/"))) == "en"
    response = client.post("/admin/staff/invite", data={
        "name": "Luc Gagnon", "email": "luc@example.org", "role": "practitioner",
        "locale": "fr_CA"})
    assert response.status_code in (200, 303), html(response)
    deliver(runner)
    assert smtp_server.parsed()[-1]["Subject"].startswith("Votre invitation")
    assert _user("luc@example.org").locale == "fr_CA"


def test_the_language_chosen_on_the_invitation_page_wins(
        client, other_client, practitioner, mail_app, runner, smtp_server, db):
    """Invited in French, she presses "English" before setting her password: English."""
    client.post("/clinic/invitations", data={
        "name": "Josée Tremblay", "email": "josee@example.org", "locale": "fr_CA"})
    deliver(runner)
    link = path_of(smtp_server.last_link("/auth/invite/"))
    other_client.get(link)
    other_client.post("/lang", data={"lang": "en", "next": link})
    password = "blue heron over the fraser"
    assert other_client.post(link, data={"password": password, "confirm": password}
                             ).status_code == 303
    assert _user("josee@example.org").locale == "en"
