"""Malformed and hostile values in addresses and forms get a refusal, never a 500 (SPEC 8.8):
integers beyond the database's, dates at the far end of the calendar, cursors carrying
either, and NUL bytes (which PostgreSQL cannot store or compare) anywhere in a request."""
from __future__ import annotations

import base64
import io
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from portal.models import User
from tests.admin.test_audit_admin import admin  # noqa: F401
from tests.factories import PASSWORD, make_patient

HUGE = "9" * 23


def _cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize("url", [
    f"/admin/audit?before={HUGE}",
    f"/admin/audit?after={HUGE}",
    "/admin/audit?before=-5",
    "/admin/audit?date_to=9999-12-31",
    "/admin/audit?date_from=9999-12-31",
    "/admin/audit.csv?date_to=9999-12-31",
    "/clinic/patients/?after=" + _cursor("activity", "2026-01-01T00:00:00+00:00", HUGE),
    "/clinic/patients/?sort=improved&after=" + _cursor("improved", HUGE, "1"),
    # Instants with no UTC equivalent in Python's calendar (year 0 or 10000 once in UTC).
    "/clinic/patients/?sort=activity&after=" + _cursor("activity", "0001-01-01T00:00:00+01:00",
                                                       "1"),
    "/clinic/patients/?sort=activity&after=" + _cursor("activity", "9999-12-31T23:59:59-14:00",
                                                       "1"),
    "/clinic/patients/?q=a%00b",
    "/admin/audit?actor=a%00b",
    "/admin/audit?patient=%00",
    "/documents/%00/download",
    "/clinic/patients/%00/",
    "/clinic/outcomes?date_to=9999-12-31",
])
def test_malformed_values_are_refused_not_a_server_error(client, admin, url):
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)


def test_a_nul_byte_in_a_form_is_refused_and_changes_nothing(client, admin, db):
    before = db.session.scalar(select(func.count()).select_from(User))
    response = client.post("/admin/staff/invite", data={
        "name": "Dr\x00 Null", "email": "null@example.org", "role": "practitioner"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == before


# --- addresses urllib cannot take apart (an unclosed IPv6 bracket raises ValueError) -------

BROKEN_ADDRESSES = ["http://[", "//[::1", "https://user@[bad]/"]


@pytest.mark.parametrize("address", BROKEN_ADDRESSES)
def test_a_broken_next_is_ignored_at_sign_in(client, address):
    assert client.get("/auth/login", query_string={"next": address}).status_code == 200
    user = make_patient()
    response = client.post("/auth/login?" + urlencode({"next": address}),
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303 and response.location == "/me/"


@pytest.mark.parametrize("address", BROKEN_ADDRESSES)
def test_a_broken_next_is_ignored_by_the_language_switch(client, address):
    response = client.post("/lang", data={"lang": "fr_CA", "next": address})
    assert response.status_code == 303 and response.location == "/"


@pytest.mark.parametrize("address", BROKEN_ADDRESSES)
def test_a_broken_referrer_sends_a_visitor_to_sign_in(client, address):
    """A form posted by someone signed out: back to sign in, then home (not to the page
    the unreadable referrer named)."""
    response = client.post("/me/documents/upload", headers={"Referer": address})
    assert response.status_code == 303
    assert response.location == "/auth/login?next=/"
    response = client.post("/me/documents/upload",
                           headers={"HX-Request": "true", "HX-Current-URL": address})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/auth/login?next=/"


# --- a multipart part whose name holds a line break is filed under no name (None) ----------

@pytest.mark.parametrize("name", ["a\rb", "a\nb", "email\r\nX-Injected: 1"])
@pytest.mark.parametrize("as_file", [False, True], ids=["field", "file"])
def test_a_broken_multipart_name_is_refused_and_changes_nothing(client, admin, db, name,
                                                                as_file):
    before = db.session.scalar(select(func.count()).select_from(User))
    part = (io.BytesIO(b"%PDF-1.7\n"), "letter.pdf") if as_file else "value"
    response = client.post("/admin/staff/invite", content_type="multipart/form-data", data={
        "name": "Dr. Line Break", "email": "line.break@example.org", "role": "practitioner",
        name: part})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == before
