"""SPEC 8.1 (as it touches accounts): the browser's language by default, a switcher that is
remembered for the visit and, for a signed-in person, on their account."""
from __future__ import annotations

import re

import pytest

from tests.auth.helpers import fresh, html, sign_in
from tests.factories import make_patient


def lang_of(response) -> str:
    match = re.search(r'<html lang="([^"]+)">', html(response))
    assert match, "no <html lang>"
    return match.group(1)


@pytest.mark.parametrize("header, lang", [
    ("fr-CA", "fr-CA"), ("fr-CA,fr;q=0.9,en;q=0.8", "fr-CA"), ("fr", "fr-CA"),
    ("en-CA,en;q=0.9", "en"), ("de-DE", "en"), (None, "en"),
])
def test_the_browser_language_is_the_default(client, header, lang):
    headers = {"Accept-Language": header} if header else {}
    assert lang_of(client.get("/auth/login", headers=headers)) == lang


def test_the_switcher_is_remembered_for_the_visit(client):
    page = client.get("/auth/login")
    assert 'name="lang" value="fr_CA"' in html(page)
    response = client.post("/lang", data={"lang": "fr_CA", "next": "/auth/reset"})
    assert response.status_code == 303 and response.location == "/auth/reset"
    with client.session_transaction() as session:
        assert session["lang"] == "fr_CA"
    # It beats the browser's language from now on.
    assert lang_of(client.get("/auth/login", headers={"Accept-Language": "en"})) == "fr-CA"

    client.post("/lang", data={"lang": "en", "next": "/auth/login"})
    assert lang_of(client.get("/auth/login", headers={"Accept-Language": "fr-CA"})) == "en"


def test_the_choice_survives_sign_in(client):
    patient = make_patient(locale=None)
    client.post("/lang", data={"lang": "fr_CA", "next": "/auth/login"})
    sign_in(client, patient)
    assert lang_of(client.get("/me/")) == "fr-CA"


def test_a_signed_in_choice_is_kept_on_the_account(client, other_client):
    patient = make_patient(locale="en")
    sign_in(client, patient)
    assert lang_of(client.get("/me/")) == "en"
    response = client.post("/lang", data={"lang": "fr_CA", "next": "/me/"})
    assert response.status_code == 303 and response.location == "/me/"
    assert fresh(patient).locale == "fr_CA"
    assert lang_of(client.get("/me/")) == "fr-CA"

    # Another device, whose browser says English, follows the account.
    sign_in(other_client, patient)
    assert lang_of(other_client.get("/me/", headers={"Accept-Language": "en-CA"})) == "fr-CA"


@pytest.mark.parametrize("value", ["de", "xx_YY", "", "fr_CA<script>", "en" * 40])
def test_unsupported_languages_are_refused(client, value):
    response = client.post("/lang", data={"lang": value, "next": "/auth/login"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "lang" not in session


def test_the_switcher_needs_a_csrf_token(client):
    response = client.post("/lang", data={"lang": "fr_CA"}, csrf=False)
    assert response.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example",
                                    "/\\evil.example", "javascript:alert(1)", ""])
def test_the_switcher_only_goes_to_same_site_paths(client, target):
    response = client.post("/lang", data={"lang": "fr_CA", "next": target})
    assert response.status_code == 303
    assert response.location == "/"
