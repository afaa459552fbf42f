"""SPEC 1.7: staff sign in with TOTP (single-use codes, one step of drift) and recovery
codes; patients may opt in and out; a half-finished sign-in expires."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock, crypto
from portal.models import RecoveryCode
from tests.auth.helpers import (
    code_for,
    fresh,
    html,
    next_code,
    recovery_codes_on_page,
    sign_in,
    start_of_step,
    totp_secret_on_page,
)
from tests.factories import PASSWORD, make_patient, make_practitioner

BAD_CODE = "That code did not work."


def password_step(client, user):
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/mfa")
    return response


def enter(client, code):
    return client.post("/auth/mfa", data={"code": code})


def signed_in_as_staff(client):
    return client.get("/clinic/").status_code == 200


@pytest.fixture
def doctor():
    return make_practitioner()


def test_staff_must_enter_a_code(client, doctor):
    password_step(client, doctor)
    page = client.get("/auth/mfa")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in html(page)
    assert not signed_in_as_staff(client)
    assert client.get("/auth/account").status_code in (302, 303)

    start_of_step()
    response = enter(client, code_for(doctor.totp_secret_plain))
    assert response.status_code == 303 and response.location.endswith("/clinic/")
    assert signed_in_as_staff(client)


def test_the_code_page_needs_a_password_first(client):
    response = client.get("/auth/mfa")
    assert response.location.endswith("/auth/login")
    assert enter(client, "123456").location.endswith("/auth/login")


def test_a_wrong_code_is_refused_and_counts_towards_the_lockout(client, doctor, app):
    password_step(client, doctor)
    start_of_step()
    good = code_for(doctor.totp_secret_plain)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = enter(client, wrong)
    assert response.status_code == 422 and BAD_CODE in html(response)
    assert not signed_in_as_staff(client)
    assert fresh(doctor).failed_logins == 1

    for _ in range(app.config["LOCKOUT_THRESHOLD"] - 1):
        assert enter(client, wrong).status_code == 422
    assert fresh(doctor).locked_until > clock.now()
    # Locked: not even the right code gets in now.
    response = enter(client, good)
    assert response.status_code == 422 and "Too many failed attempts" in html(response)
    assert not signed_in_as_staff(client)


def test_a_code_works_only_once(client, doctor):
    password_step(client, doctor)
    start_of_step()
    code = code_for(doctor.totp_secret_plain)
    assert enter(client, code).location.endswith("/clinic/")
    client.post("/auth/logout")

    # Same code, same 30-second window, a second time: refused.
    password_step(client, doctor)
    response = enter(client, code)
    assert response.status_code == 422 and BAD_CODE in html(response)
    assert not signed_in_as_staff(client)
    # The next code works.
    assert enter(client, next_code(doctor.totp_secret_plain)).location.endswith("/clinic/")


def test_codes_one_step_either_side_are_accepted(client, doctor):
    start_of_step()
    password_step(client, doctor)
    assert enter(client, code_for(doctor.totp_secret_plain, -1)).location.endswith("/clinic/")
    client.post("/auth/logout")

    password_step(client, doctor)
    assert enter(client, code_for(doctor.totp_secret_plain, +1)).location.endswith("/clinic/")


@pytest.mark.parametrize("steps", [-2, +2])
def test_codes_two_steps_away_are_refused(client, doctor, steps):
    start_of_step()
    password_step(client, doctor)
    response = enter(client, code_for(doctor.totp_secret_plain, steps))
    assert response.status_code == 422
    assert not signed_in_as_staff(client)


def test_the_pending_second_step_expires_after_ten_minutes(client, doctor):
    password_step(client, doctor)
    clock.advance(minutes=9, seconds=50)
    assert client.get("/auth/mfa").status_code == 200

    clock.advance(seconds=11)
    start_of_step()
    response = enter(client, code_for(doctor.totp_secret_plain))
    assert response.status_code == 303 and response.location.endswith("/auth/login")
    assert not signed_in_as_staff(client)
    assert client.get("/auth/mfa").location.endswith("/auth/login")


# --- enrolment, recovery codes, opting in and out ---------------------------------------

def enrol(client, user):
    """From the account page, as a signed-in patient does; returns (secret, codes)."""
    account = html(client.get("/auth/account"))
    assert 'href="/auth/mfa/setup"' in account
    setup = client.get("/auth/mfa/setup")
    assert setup.status_code == 200
    secret = totp_secret_on_page(html(setup))
    assert "<svg" in html(setup)  # the QR code, drawn on the server
    start_of_step()
    done = client.post("/auth/mfa/setup", data={"code": code_for(secret)})
    assert done.status_code == 200
    return secret, recovery_codes_on_page(html(done))


@pytest.fixture
def patient_with_mfa(client):
    patient = make_patient()
    sign_in(client, patient)
    secret, codes = enrol(client, patient)
    patient.totp_secret_plain = secret
    return patient, codes


def test_a_patient_opts_in_and_then_needs_a_code(client, other_client, patient_with_mfa, db):
    patient, codes = patient_with_mfa
    assert fresh(patient).mfa_enabled

    # Ten codes, shown once: not on the account page, and setup does not show them again.
    assert len(codes) == 10 and len(set(codes)) == 10
    account = html(client.get("/auth/account"))
    assert all(code not in account for code in codes)
    assert "You have 10 unused recovery codes." in account
    assert client.get("/auth/mfa/setup").location.endswith("/auth/account")

    # Stored hashed.
    rows = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == patient.id)).all()
    assert len(rows) == 10
    stored = {row.code_hash for row in rows}
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
        assert crypto.token_hash(code.replace("-", "")) in stored

    response = other_client.post("/auth/login", data={"email": patient.email,
                                                      "password": PASSWORD})
    assert response.location.endswith("/auth/mfa")
    response = enter(other_client, next_code(patient.totp_secret_plain))
    assert response.location.endswith("/me/")


def test_a_wrong_code_at_enrolment_is_refused(client):
    patient = make_patient()
    sign_in(client, patient)
    setup = client.get("/auth/mfa/setup")
    secret = totp_secret_on_page(html(setup))
    response = client.post("/auth/mfa/setup", data={"code": "12345"})
    assert response.status_code == 422
    assert not fresh(patient).mfa_enabled
    # Reloading keeps the same secret, in case the app already has it.
    assert totp_secret_on_page(html(client.get("/auth/mfa/setup"))) == secret


def test_each_recovery_code_works_once(client, patient_with_mfa):
    patient, codes = patient_with_mfa
    client.post("/auth/logout")

    password_step(client, patient)
    response = enter(client, codes[0].lower())  # typed in lower case: still fine
    assert response.status_code == 303 and response.location.endswith("/me/")
    assert "You have 9 unused recovery codes." in html(client.get("/auth/account"))
    client.post("/auth/logout")

    password_step(client, patient)
    response = enter(client, codes[0])
    assert response.status_code == 422 and BAD_CODE in html(response)
    assert enter(client, codes[1].replace("-", "")).location.endswith("/me/")


def test_recovery_codes_of_one_user_do_not_work_for_another(client, other_client,
                                                            patient_with_mfa):
    _patient, codes = patient_with_mfa
    doctor = make_practitioner()
    password_step(other_client, doctor)
    assert enter(other_client, codes[0]).status_code == 422


def test_regenerating_recovery_codes_replaces_the_old_ones(client, patient_with_mfa):
    patient, old = patient_with_mfa
    response = client.post("/auth/account/recovery-codes", data={"current": "wrong password!"})
    assert response.status_code == 422

    response = client.post("/auth/account/recovery-codes", data={"current": PASSWORD})
    assert response.status_code == 200
    new = recovery_codes_on_page(html(response))
    assert len(new) == 10 and not set(new) & set(old)
    client.post("/auth/logout")

    password_step(client, patient)
    assert enter(client, old[0]).status_code == 422
    assert enter(client, new[0]).location.endswith("/me/")


def test_a_patient_opts_out_with_their_password(client, patient_with_mfa, db):
    patient, _codes = patient_with_mfa
    response = client.post("/auth/account/mfa/disable", data={"current": "not my password"})
    assert response.status_code == 422
    assert fresh(patient).mfa_enabled

    response = client.post("/auth/account/mfa/disable", data={"current": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/account")
    patient = fresh(patient)
    assert not patient.mfa_enabled and patient.totp_secret is None
    assert db.session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == patient.id)).all() == []
    client.post("/auth/logout")

    response = client.post("/auth/login", data={"email": patient.email, "password": PASSWORD})
    assert response.location.endswith("/me/")


def test_staff_cannot_turn_the_second_factor_off(client, doctor):
    sign_in(client, doctor)
    assert "Turn two-step sign-in off" not in html(client.get("/auth/account"))
    response = client.post("/auth/account/mfa/disable", data={"current": PASSWORD})
    assert response.status_code == 404
    assert fresh(doctor).mfa_enabled


def test_staff_can_regenerate_recovery_codes(client, doctor):
    sign_in(client, doctor)
    response = client.post("/auth/account/recovery-codes", data={"current": PASSWORD})
    assert response.status_code == 200
    assert len(recovery_codes_on_page(html(response))) == 10


def test_without_a_second_factor_there_are_no_recovery_codes_to_make(client):
    patient = make_patient()
    sign_in(client, patient)
    response = client.post("/auth/account/recovery-codes", data={"current": PASSWORD})
    assert response.status_code == 404
