"""SPEC 9 and the operator commands: `flask seed-demo` and `flask create-admin`."""
from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from portal import clock, passwords
from portal.models import Patient, User

DEMO_PASSWORD = "demo-password-123"


@pytest.fixture
def demo_file(app, tmp_path) -> Path:
    # The app's instance folder is the repository's: keep the developer's file alone.
    app.instance_path = str(tmp_path / "instance")
    return Path(app.instance_path) / "demo-accounts.txt"


def seed(runner, *args):
    result = runner.invoke(args=["seed-demo", *args])
    return result


def accounts(path: Path) -> list[list[str]]:
    return [line.split(" ") for line in path.read_text(encoding="utf-8").splitlines()]


def users(db) -> dict[str, User]:
    db.session.expire_all()
    return {u.email: u for u in db.session.scalars(select(User))}


def code_at_clock(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now().timestamp())


def test_seed_demo_creates_a_believable_clinic(runner, demo_file, db):
    result = seed(runner)
    assert result.exit_code == 0, result.output

    people = users(db)
    assert people["admin@example.com"].role == "admin"
    assert people["dr.lee@example.com"].role == "practitioner"
    assert people["patient@example.com"].role == "patient"
    assert people["patient@example.com"].patient.status == "intake_in_progress"
    staff = [u for u in people.values() if u.is_staff]
    assert len(staff) >= 3 and sum(u.role == "practitioner" for u in staff) >= 2
    assert all(u.mfa_enabled and u.totp_secret for u in staff)

    patients = db.session.scalar(select(func.count()).select_from(Patient))
    assert 35 <= patients <= 45
    statuses = set(db.session.scalars(select(Patient.status)))
    assert {"invited", "intake_in_progress"} <= statuses

    # The file: one account per line, ``email password role totp-secret``.
    lines = accounts(demo_file)
    assert all(len(parts) == 4 for parts in lines)
    by_email = {parts[0]: parts for parts in lines}
    assert set(by_email) >= {"admin@example.com", "dr.lee@example.com", "patient@example.com"}
    hashes = {people[parts[0]].password_hash for parts in lines}
    assert len(hashes) == 1  # one shared password (and one slow hash)
    assert passwords.verify(hashes.pop(), DEMO_PASSWORD)
    for email, password, role, secret in lines:
        user = people[email]
        assert password == DEMO_PASSWORD
        assert role == user.role
        if user.is_staff:
            assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
        else:
            assert secret == "-"
    # Every staff account is listed; invited patients (no password yet) cannot sign in.
    assert {u.email for u in staff} <= set(by_email)
    assert all(people[e].has_password for e in by_email)

    # The secrets are printed too.
    for _email, _password, _role, secret in lines:
        if secret != "-":
            assert secret in result.output
    assert DEMO_PASSWORD in result.output


def test_seed_demo_twice_is_safe(runner, demo_file, db):
    assert seed(runner).exit_code == 0
    first = demo_file.read_text()
    counts = (db.session.scalar(select(func.count()).select_from(User)),
              db.session.scalar(select(func.count()).select_from(Patient)))

    result = seed(runner)
    assert result.exit_code == 0, result.output
    assert demo_file.read_text() == first  # same accounts, same TOTP secrets
    assert (db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Patient))) == counts


def test_seed_demo_password_option_changes_the_shared_password(runner, demo_file, db):
    assert seed(runner).exit_code == 0
    secrets_before = {p[0]: p[3] for p in accounts(demo_file)}

    result = seed(runner, "--password", "orchard-ladder-picnic")
    assert result.exit_code == 0, result.output
    lines = accounts(demo_file)
    assert {p[1] for p in lines} == {"orchard-ladder-picnic"}
    assert {p[0]: p[3] for p in lines} == secrets_before
    people = users(db)
    for email in ("admin@example.com", "dr.lee@example.com", "patient@example.com"):
        assert passwords.verify(people[email].password_hash, "orchard-ladder-picnic")
        assert not passwords.verify(people[email].password_hash, DEMO_PASSWORD)


@pytest.mark.parametrize("weak", ["short", "password1234", "has spaces in it", "Jennifer1985!",
                                  "correcthorsebatterystaple"])
def test_seed_demo_refuses_a_weak_password(runner, demo_file, db, weak):
    result = seed(runner, "--password", weak)
    assert result.exit_code != 0
    assert "--password" in result.output
    assert users(db) == {}
    assert not demo_file.exists()


def test_demo_staff_sign_in_with_the_printed_secret(client, runner, demo_file):
    result = seed(runner)
    secret = re.search(r"dr\.lee@example\.com\s+TOTP secret ([A-Z2-7]+)", result.output).group(1)
    assert ["dr.lee@example.com", DEMO_PASSWORD, "practitioner", secret] in accounts(demo_file)

    response = client.post("/auth/login", data={"email": "dr.lee@example.com",
                                                "password": DEMO_PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/mfa")
    response = client.post("/auth/mfa", data={"code": code_at_clock(secret)})
    assert response.status_code == 303 and response.location.endswith("/clinic/")
    assert client.get("/clinic/").status_code == 200


def test_the_demo_patient_signs_in(client, runner, demo_file):
    seed(runner)
    response = client.post("/auth/login", data={"email": "patient@example.com",
                                                "password": DEMO_PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/me/")


def test_create_admin(client, runner, db):
    result = runner.invoke(args=["create-admin", "--email", " Boss@Example.org ",
                                 "--name", "Bea Boss", "--password", "granite harbour lights"])
    assert result.exit_code == 0, result.output
    boss = users(db)["boss@example.org"]
    assert boss.role == "admin" and boss.name == "Bea Boss" and boss.active
    assert boss.password_hash.startswith("$argon2id$")

    # The first sign-in sets up two-step sign-in before anything else.
    response = client.post("/auth/login", data={"email": "boss@example.org",
                                                "password": "granite harbour lights"})
    assert response.status_code == 303 and response.location.endswith("/auth/mfa/setup")

    again = runner.invoke(args=["create-admin", "--email", "boss@example.org",
                                "--name", "Other", "--password", "granite harbour lights"])
    assert again.exit_code != 0 and "already has an account" in again.output


def test_create_admin_refuses_a_weak_password(runner, db):
    result = runner.invoke(args=["create-admin", "--email", "boss@example.org",
                                 "--name", "Bea Boss", "--password", "qwertyqwerty"])
    assert result.exit_code != 0
    assert "password refused" in result.output
    assert users(db) == {}


def test_create_admin_prompts(runner, db):
    result = runner.invoke(args=["create-admin"], input="\n".join([
        "prompt@example.org", "Pat Prompt", "granite harbour lights",
        "granite harbour lights"]) + "\n")
    assert result.exit_code == 0, result.output
    assert "granite harbour lights" not in result.output  # hidden input
    assert users(db)["prompt@example.org"].role == "admin"


def test_send_mail_reports_what_it_did(runner, db):
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0 and "sent 0, failed 0" in result.output



def test_seed_demo_refuses_production(app, runner, demo_file, db):
    """The demo's password is public (README): never in production (exit status 1)."""
    app.config["ENV_NAME"] = "production"
    result = seed(runner)
    assert result.exit_code == 1
    assert "PORTAL_ENV=production" in result.output
    assert users(db) == {}
    assert not demo_file.exists()
