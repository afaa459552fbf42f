"""Small helpers shared by the account tests (SPEC 1)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage
from tests.factories import PASSWORD


def path_of(link: str) -> str:
    """The path of an e-mailed link, for the test client."""
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def deliver(runner) -> None:
    """Send the outbox to the test SMTP server, as `flask send-mail` does from cron."""
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "failed 0" in result.output, result.output


def fresh(obj):
    """Re-read ``obj`` from the database (requests run in their own sessions)."""
    db.session.refresh(obj)
    return obj


def outbox(to_addr: str | None = None, kind: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    stmt = db.select(OutboxMessage).order_by(OutboxMessage.id)
    if to_addr:
        stmt = stmt.where(OutboxMessage.to_addr == to_addr)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(stmt))


def start_of_step() -> None:
    """Move the clock to just after the start of a 30-second TOTP step, so that a code
    computed now is still current when the server checks it."""
    now = clock.now().timestamp()
    clock.advance(seconds=30 - (now % 30) + 1)


def code_for(secret: str, steps: int = 0) -> str:
    """The TOTP code at the portal's clock, ``steps`` 30-second steps away."""
    return pyotp.TOTP(secret).at(clock.now().timestamp() + 30 * steps)


def next_code(secret: str) -> str:
    """A code never used before: codes are single-use, so go to the next step first."""
    clock.advance(seconds=30)
    start_of_step()
    return code_for(secret)


def sign_in(client, user_or_email, password: str = PASSWORD, secret: str | None = None,
            next_url: str | None = None):
    """Sign in through the forms, with a fresh TOTP code when the account asks for one.
    Returns the last response (a 303 to the landing page on success)."""
    email = getattr(user_or_email, "email", user_or_email)
    url = "/auth/login" + (f"?next={next_url}" if next_url else "")
    response = client.post(url, data={"email": email, "password": password})
    secret = secret or getattr(user_or_email, "totp_secret_plain", None)
    if response.status_code == 303 and response.location.endswith("/auth/mfa") and secret:
        response = client.post("/auth/mfa", data={"code": next_code(secret)})
    return response


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field_id: str) -> str | None:
    """The error drawn next to a field by the forms macro, or None."""
    match = re.search(rf'<p class="field__error" id="{field_id}-error">(.*?)</p>', page, re.S)
    if not match:
        return None
    text = re.sub(r'<span class="visually-hidden">.*?</span>', "", match.group(1))
    return re.sub(r"<[^>]+>", "", text).strip()


def input_value(page: str, field_id: str) -> str | None:
    match = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', page)
    if not match:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def totp_secret_on_page(page: str) -> str:
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert match, "no TOTP secret on the set-up page"
    return match.group(1)


def recovery_codes_on_page(page: str) -> list[str]:
    return re.findall(r"<li>([A-Z0-9]{5}-[A-Z0-9]{5})</li>", page)


def without_csrf(page: str) -> str:
    """The page with its per-session CSRF tokens blanked out."""
    page = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', page)
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', page)
