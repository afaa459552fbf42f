"""SPEC 1.3: at least 12 characters, no composition rules, not a common password, not the
demo's, not easy to guess (zxcvbn's score, with the reason in the person's language),
argon2id with a rehash when the parameters change; sign-in does not tell which part was
wrong."""
from __future__ import annotations

from html import unescape

import argon2
import pytest
from sqlalchemy import select

from portal import passwords
from portal.models import User
from tests.auth.helpers import field_error, fresh, html, sign_in, without_csrf
from tests.factories import PASSWORD, make_patient, make_practitioner


@pytest.fixture
def signed_in_patient(client):
    patient = make_patient()
    assert sign_in(client, patient).status_code == 303
    return patient


def change_password(client, new: str, confirm: str | None = None):
    return client.post("/auth/account/password",
                       data={"current": PASSWORD, "password": new,
                             "confirm": new if confirm is None else confirm})


def test_eleven_characters_are_refused_and_twelve_accepted(client, signed_in_patient):
    response = change_password(client, "mauve tract")  # 11
    assert response.status_code == 422
    assert "at least 12 characters" in field_error(html(response), "password")
    assert passwords.verify(fresh(signed_in_patient).password_hash, PASSWORD)

    response = change_password(client, "mauve tracto")  # 12
    assert response.status_code == 303, field_error(html(response), "password")
    assert passwords.verify(fresh(signed_in_patient).password_hash, "mauve tracto")


@pytest.mark.parametrize("common", [
    "password1234", "qwertyqwerty", "aaaaaaaaaaaa", "123456789012",
    "1qaz2wsx3edc",  # in the zxcvbn frequency list
    "PASSWORD1234",  # case does not rescue it
    "iloveyou2024!",
])
def test_common_passwords_are_refused(client, signed_in_patient, common):
    assert len(common) >= 12
    response = change_password(client, common)
    assert response.status_code == 422
    assert "too common" in field_error(html(response), "password")
    assert passwords.verify(fresh(signed_in_patient).password_hash, PASSWORD)


@pytest.mark.parametrize("good", [
    "mauve tractor dances slowly",  # a passphrase: lower case and spaces only
    "lowercaseonlywords",           # no upper case, no digit, no symbol
    "839201746583",                 # digits only, but not a pattern
    "été à montréal en vélo",       # accents are fine
])
def test_good_passphrases_are_accepted_without_composition_rules(client, signed_in_patient,
                                                                 good):
    response = change_password(client, good)
    assert response.status_code == 303, field_error(html(response), "password")
    assert passwords.verify(fresh(signed_in_patient).password_hash, good)


def test_confirmation_must_match(client, signed_in_patient):
    response = change_password(client, "mauve tractor dances", "mauve tractor dance")
    assert response.status_code == 422
    assert field_error(html(response), "confirm") == "The two passwords are not the same."


def test_passwords_are_hashed_with_argon2id(client, signed_in_patient):
    assert change_password(client, "mauve tractor dances").status_code == 303
    stored = fresh(signed_in_patient).password_hash
    assert stored.startswith("$argon2id$")
    # OWASP's configuration: 19 MiB, 2 passes, 1 lane.
    assert "$m=19456,t=2,p=1$" in stored
    assert "mauve tractor dances" not in stored
    # Salted: the same password hashed again gives a different string.
    assert passwords.hash_password("mauve tractor dances") != stored


def test_sign_in_rehashes_a_hash_made_with_other_parameters(client, db):
    old_hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8192)
    patient = make_patient()
    patient.password_hash = old_hasher.hash(PASSWORD)
    db.session.commit()
    old = patient.password_hash
    assert passwords.needs_rehash(old)

    response = sign_in(client, patient)
    assert response.status_code == 303 and response.location.endswith("/me/")

    new = fresh(patient).password_hash
    assert new != old
    assert new.startswith("$argon2id$")
    assert not passwords.needs_rehash(new)
    params = argon2.extract_parameters(new)
    assert params.time_cost == passwords._hasher.time_cost
    assert params.memory_cost == passwords._hasher.memory_cost
    assert passwords.verify(new, PASSWORD)


def test_current_hashes_are_left_alone_at_sign_in(client):
    patient = make_patient()
    before = patient.password_hash
    assert sign_in(client, patient).status_code == 303
    assert fresh(patient).password_hash == before


def test_unknown_account_and_wrong_password_get_the_same_answer(client):
    patient = make_patient(email="known@example.org")
    wrong = client.post("/auth/login", data={"email": patient.email,
                                             "password": "not the password at all"})
    unknown = client.post("/auth/login", data={"email": "nobody@example.org",
                                               "password": "not the password at all"})
    assert wrong.status_code == unknown.status_code == 422
    message = "That e-mail address and password do not match an account."
    assert message in html(wrong)
    # The whole page is the same but for the address typed (and the CSRF token).
    assert (without_csrf(html(wrong)).replace("known@example.org", "EMAIL")
            == without_csrf(html(unknown)).replace("nobody@example.org", "EMAIL"))


# --- the demo's password, published examples and zxcvbn's score -----------------------

REFUSED = {
    "en": {
        "demo": "This is the demo's password, printed in the instructions for anyone to "
                "read. Please choose another.",
        "published": "This password is a well-known published example, so it is among the "
                     "first guesses. Please choose another.",
    },
    "fr_CA": {
        "demo": "C'est le mot de passe de la démo, publié dans les instructions à la vue de "
                "tous. Veuillez en choisir un autre.",
        "published": "Ce mot de passe est un exemple connu et publié : il fait partie des "
                     "premiers essais. Veuillez en choisir un autre.",
    },
}


def in_language(client, lang: str) -> None:
    assert client.post("/lang", data={"lang": lang, "next": "/"}).status_code == 303


def password_error(response) -> str | None:
    """The error next to the password field, as the person reads it."""
    error = field_error(html(response), "password")
    return unescape(error) if error is not None else None


@pytest.mark.parametrize("lang", ["en", "fr_CA"])
@pytest.mark.parametrize("refused, reason", [
    (passwords.DEMO_PASSWORD, "demo"),
    ("correcthorsebatterystaple", "published"),  # XKCD 936's example
    ("Correct Horse Battery Staple", "published"),
    ("Demo Password 123", "demo"),
])
def test_the_demo_and_published_passwords_are_refused_with_the_reason(
        client, signed_in_patient, lang, refused, reason):
    in_language(client, lang)
    response = change_password(client, refused)
    assert response.status_code == 422
    assert password_error(response) == REFUSED[lang][reason]
    assert passwords.verify(fresh(signed_in_patient).password_hash, PASSWORD)


GUESSABLE = {
    # zxcvbn scores these below 3; each shows its own reason, in the person's language.
    "Jennifer1985!": {
        "en": "This password is too easy to guess. First names and surnames are easy to "
              "guess. Add a word or two more, unusual ones if you can. A capital letter at "
              "the start adds little.",
        "fr_CA": "Ce mot de passe est trop facile à deviner. Les prénoms et les noms de "
                 "famille sont faciles à deviner. Ajoutez un ou deux mots de plus, peu "
                 "courants si possible. Une majuscule au début n'ajoute pas grand-chose.",
    },
    "abcdefgh1357": {
        "en": "This password is too easy to guess. Runs such as abc or 6543 are among the "
              "first guesses. Add a word or two more, unusual ones if you can.",
        "fr_CA": "Ce mot de passe est trop facile à deviner. Les suites comme abc ou 6543 "
                 "font partie des premiers essais. Ajoutez un ou deux mots de plus, peu "
                 "courants si possible.",
    },
    "m0nk3yd4ncing": {  # no warning of zxcvbn's own: only the general sentence
        "en": "This password is too easy to guess. Add a word or two more, unusual ones if "
              "you can. Swapping letters for look-alike symbols (@ for a, 0 for o) adds "
              "little.",
        "fr_CA": "Ce mot de passe est trop facile à deviner. Ajoutez un ou deux mots de plus, "
                 "peu courants si possible. Remplacer des lettres par des symboles "
                 "semblables (@ pour a, 0 pour o) n'ajoute pas grand-chose.",
    },
}


@pytest.mark.parametrize("lang", ["en", "fr_CA"])
@pytest.mark.parametrize("guessable", sorted(GUESSABLE))
def test_easily_guessed_passwords_are_refused_with_zxcvbns_reason_translated(
        client, signed_in_patient, lang, guessable):
    assert passwords.is_common(guessable) is False  # the list alone would let it through
    in_language(client, lang)
    response = change_password(client, guessable)
    assert response.status_code == 422
    assert password_error(response) == GUESSABLE[guessable][lang]
    assert passwords.verify(fresh(signed_in_patient).password_hash, PASSWORD)


PERSONAL = "It is built on your name, your e-mail address or the clinic's name."


@pytest.mark.parametrize("personal", ["mariatremblay1", "maria.tremblay", "TremblayMaria12",
                                      "imsclinic2026"])
def test_the_persons_name_and_address_and_the_clinics_name_count_as_guessable(
        client, personal):
    patient = make_patient(name="Maria Tremblay", email="maria.tremblay@example.org")
    assert sign_in(client, patient).status_code == 303
    assert passwords.assess(personal) is None  # strong enough for someone else
    response = change_password(client, personal)
    assert response.status_code == 422
    assert PERSONAL in password_error(response)


def test_registration_counts_the_name_and_address_typed_on_the_form(client, db):
    from portal.clinic_settings import current_settings
    current_settings().self_registration = True
    db.session.commit()
    response = client.post("/auth/register", data={
        "name": "Walt Visitor", "email": "walt.visitor@example.org",
        "password": "waltvisitor2026", "confirm": "waltvisitor2026"})
    assert response.status_code == 422
    assert PERSONAL in password_error(response)
    assert 'value="walt.visitor@example.org"' in html(response)  # nothing typed is lost


def test_every_warning_and_suggestion_shown_is_ours():
    """zxcvbn's own English texts are never shown: each one our samples produce is in the
    tables (or deliberately left out), so an upgrade that rewords them fails here."""
    from portal.forms import PASSWORD_SUGGESTIONS, PASSWORD_WARNINGS
    left_out = {"Avoid repeated words and characters.", "Avoid sequences.",
                "Avoid dates and years that are associated with you.",
                "Use a longer keyboard pattern with more turns."}
    samples = ["asdfghjklzxc", "Jennifer1985!", "abc123abc123x", "zxcvbnm,./lkj",
               "abcdefgh1357", "1985-12-01x!", "encyclopaedia", "ENCYCLOPAEDIA",
               "yrotsihlarutan", "p4ssw0rdmonkey", "jennifersmith"]
    seen_warnings, seen_suggestions = set(), set()
    for sample in samples:
        weakness = passwords.assess(sample)
        assert weakness is not None and weakness.reason == "guessable", sample
        seen_warnings.add(weakness.warning)
        seen_suggestions.update(weakness.suggestions)
    assert seen_warnings - {""} <= set(PASSWORD_WARNINGS)
    assert seen_suggestions - left_out <= set(PASSWORD_SUGGESTIONS)
    assert len(seen_warnings - {""}) == 7 and len(seen_suggestions - left_out) == 5


def test_a_long_password_is_scored_on_its_first_72_characters():
    assert passwords.assess("x" * 72 + "Qz9!") is not None
    assert passwords.assess("mauve tractor dances slowly " * 9) is None  # 252 characters


def test_the_demo_password_is_refused_on_every_form_that_sets_a_password(
        client, app, mail_app, runner, smtp_server, db):
    from portal.clinic_settings import current_settings
    from tests.auth.test_invitations import invite_patient
    from tests.auth.test_reset import reset_link
    demo = {"password": passwords.DEMO_PASSWORD, "confirm": passwords.DEMO_PASSWORD}
    message = REFUSED["en"]["demo"]

    # Accepting an invitation.
    assert sign_in(client, make_practitioner()).status_code == 303
    link = invite_patient(client, runner, smtp_server)
    visitor = app.test_client()
    response = visitor.post(link, data=demo)
    assert response.status_code == 422 and password_error(response) == message

    # A reset by e-mail.
    make_patient(email="known@example.org")
    link = reset_link(visitor, runner, smtp_server)
    response = visitor.post(link, data=demo)
    assert response.status_code == 422 and password_error(response) == message

    # Self-registration.
    current_settings().self_registration = True
    db.session.commit()
    response = visitor.post("/auth/register", data={"name": "Walt Visitor",
                                                    "email": "walt@example.org", **demo})
    assert response.status_code == 422 and password_error(response) == message

    # The first admin, from the command line.
    result = runner.invoke(args=["create-admin", "--email", "boss@example.org", "--name",
                                 "Bea Boss", "--password", passwords.DEMO_PASSWORD])
    assert result.exit_code != 0 and "the demo's public password" in result.output
    assert not any(passwords.verify(hash_, passwords.DEMO_PASSWORD) for hash_ in
                   db.session.scalars(select(User.password_hash)) if hash_)
