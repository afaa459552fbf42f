"""SPEC 1.3: at least 12 characters, no composition rules, not a common password, argon2id
with a rehash when the parameters change; sign-in does not tell which part was wrong."""
from __future__ import annotations

import argon2
import pytest

from portal import passwords
from tests.auth.helpers import field_error, fresh, html, sign_in, without_csrf
from tests.factories import PASSWORD, make_patient


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
