"""htmx rules of the house (ARCHITECTURE.md): the server picks fragment or page, sign-in is an
HX-Redirect, failures land in the flash region, invalid forms come back as 422 with errors by
their fields, and only portal/htmx.py touches HX-* headers."""
from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Response
from sqlalchemy import select

from portal import clock, htmx
from portal.extensions import db
from portal.models import User
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.markup import parse

HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
HISTORY = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
ROOT = Path(__file__).resolve().parent.parent


def is_full_page(response) -> bool:
    html = response.get_data(as_text=True)
    return "<html" in html and "<body" in html


def varies_on_hx_request(response) -> bool:
    return "hx-request" in {v.lower() for v in response.vary}


@pytest.fixture
def doctor(client, auth):
    user = make_practitioner()
    assert auth.login(user).status_code == 303
    return user


# --- fragment, page, boosted, history restore ------------------------------------------

def test_worklist_page_or_fragment(client, doctor):
    page = client.get("/clinic/")
    assert page.status_code == 200 and is_full_page(page)
    assert parse(page.get_data(as_text=True)).by_id("invite-panel") is not None

    fragment = client.get("/clinic/", headers=HX)
    assert fragment.status_code == 200 and not is_full_page(fragment)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="invite-panel"')

    for headers in (BOOSTED, HISTORY):
        response = client.get("/clinic/", headers=headers)
        assert response.status_code == 200 and is_full_page(response), headers

    for response in (page, fragment):
        assert varies_on_hx_request(response)


def test_invitation_fragment_for_htmx(client, doctor):
    client.get("/clinic/")
    response = client.post("/clinic/invitations", headers=HX,
                           data={"name": "Ada Invitee", "email": "ada@example.org"})
    assert response.status_code == 200 and not is_full_page(response)
    doc = parse(response.get_data(as_text=True))
    panel = doc.by_id("invite-panel")
    assert panel is not None
    assert "ada@example.org" in response.get_data(as_text=True)  # now in the pending list
    # The flash region is updated out of band with the confirmation.
    flash = doc.by_id("flash")
    assert flash is not None and flash.attrs.get("data-hx-swap-oob") == "true"
    assert "Invitation sent to ada@example.org" in flash.text


def test_invitation_full_page_otherwise(client, doctor):
    client.get("/clinic/")
    plain = client.post("/clinic/invitations", data={"name": "Bo", "email": "bo@example.org"})
    assert plain.status_code == 303 and urlsplit(plain.location).path == "/clinic/"
    assert "Invitation sent to bo@example.org" in client.get("/clinic/").get_data(as_text=True)

    # A boosted form navigates the whole page.
    boosted = client.post("/clinic/invitations", headers=BOOSTED,
                          data={"name": "Cy", "email": "cy@example.org"})
    assert boosted.status_code == 200
    assert boosted.headers["HX-Redirect"] == "/clinic/"
    assert boosted.get_data() == b""
    assert db.session.scalar(select(User).where(User.email == "cy@example.org")) is not None


def test_login_form_fragment(client):
    page = client.get("/auth/login")
    assert is_full_page(page)
    fragment = client.get("/auth/login", headers=HX)
    assert fragment.status_code == 200 and not is_full_page(fragment)
    assert fragment.get_data(as_text=True).lstrip().startswith('<form id="login-form"')
    for headers in (BOOSTED, HISTORY):
        assert is_full_page(client.get("/auth/login", headers=headers)), headers


def test_htmx_sign_in_redirects_the_whole_page(client):
    patient = make_patient()
    response = client.post("/auth/login", headers=HX,
                           data={"email": patient.email, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/me/"
    assert "Location" not in response.headers


# --- sign-in needed ---------------------------------------------------------------------

def _login_redirect_next(response) -> str:
    assert response.status_code == 200
    assert "Location" not in response.headers
    # Never a sign-in form swapped into the target.
    assert "<form" not in response.get_data(as_text=True)
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/auth/login"
    return parse_qs(target.query)["next"][0]


def test_htmx_page_needing_sign_in_gets_hx_redirect(htmx_client):
    assert _login_redirect_next(htmx_client.get("/clinic/")) == "/clinic/"
    assert _login_redirect_next(htmx_client.get("/me/?tab=x")) == "/me/?tab=x"


def test_htmx_post_needing_sign_in_returns_to_the_page(htmx_client):
    data = {"name": "X", "email": "x@example.org"}
    response = htmx_client.post("/clinic/invitations", data=data,
                                headers={"HX-Current-URL": "http://localhost/clinic/?page=2"})
    assert _login_redirect_next(response) == "/clinic/?page=2"
    # Another site's address is not a place to go back to.
    response = htmx_client.post("/clinic/invitations", data=data,
                                headers={"HX-Current-URL": "https://evil.example/clinic/"})
    assert _login_redirect_next(response) == "/"


def test_htmx_request_after_idle_timeout_gets_hx_redirect(client, auth):
    patient = make_patient()
    auth.login(patient)
    assert client.get("/me/", headers=HX).status_code == 200
    clock.advance(minutes=61)
    assert _login_redirect_next(client.get("/me/", headers=HX)) == "/me/"


# --- errors -----------------------------------------------------------------------------

@pytest.fixture
def boom(app):
    """A route that fails, added before the app serves its first request."""
    def fail():
        raise RuntimeError("boom")
    app.add_url_rule("/_test/boom", "test_boom", fail)


ERRORS = [
    # (status, method, path, post without CSRF token, text on the page)
    (400, "POST", "/auth/logout", True, "This form has expired"),
    (404, "GET", "/no-such-page", False, "Page not found"),
    (405, "GET", "/auth/logout", False, "That action is not available here"),
    (500, "GET", "/_test/boom", False, "Something went wrong"),
]


def _request(client, method, path, no_csrf, headers):
    if method == "POST":
        return client.post(path, headers=headers, csrf=not no_csrf)
    return client.get(path, headers=headers)


@pytest.mark.parametrize("status,method,path,no_csrf,text", ERRORS)
def test_htmx_errors_go_to_the_flash_region(boom, client, status, method, path, no_csrf, text):
    response = _request(client, method, path, no_csrf, HX)
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    html = response.get_data(as_text=True)
    assert not is_full_page(response) and len(html) < 1000
    alerts = parse(html).find_all(role="alert")
    assert len(alerts) == 1 and text in alerts[0].text
    assert varies_on_hx_request(response)


@pytest.mark.parametrize("headers", [{}, BOOSTED, HISTORY], ids=["plain", "boosted", "history"])
@pytest.mark.parametrize("status,method,path,no_csrf,text", ERRORS)
def test_errors_without_htmx_fragment_are_full_pages(boom, client, headers, status, method, path,
                                                     no_csrf, text):
    response = _request(client, method, path, no_csrf, headers)
    assert response.status_code == status
    assert is_full_page(response)
    assert "HX-Retarget" not in response.headers and "HX-Reswap" not in response.headers
    html = response.get_data(as_text=True)
    assert len(parse(html).find_all("h1")) == 1 and text in html
    assert varies_on_hx_request(response)


def test_wrong_role_htmx_request_is_a_404_in_the_flash_region(client, auth):
    auth.login(make_patient())
    response = client.get("/clinic/", headers=HX)
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flash"


def test_vary_on_every_kind_of_response(boom, client):
    responses = [
        client.get("/"), client.get("/auth/login"), client.get("/healthz"),
        client.get("/static/css/portal.css"), client.get("/no-such-page"),
        client.get("/auth/logout"), client.post("/auth/logout", csrf=False),
        client.get("/_test/boom"), client.get("/clinic/"),
    ]
    responses += [client.get(r.request.path, headers=HX) for r in responses[:5]]
    for response in responses:
        assert varies_on_hx_request(response), (response.request.path, response.status_code)


# --- invalid forms: 422, errors by their fields ----------------------------------------

def assert_field_error(doc, field_id: str) -> None:
    control = doc.by_id(field_id)
    assert control is not None, field_id
    assert control.attrs.get("aria-invalid") == "true", field_id
    described = (control.attrs.get("aria-describedby") or "").split()
    assert f"{field_id}-error" in described, described
    error = doc.by_id(f"{field_id}-error")
    assert error is not None and error.text.strip(), field_id


def assert_field_ok(doc, field_id: str) -> None:
    control = doc.by_id(field_id)
    assert control is not None and "aria-invalid" not in control.attrs, field_id
    assert doc.by_id(f"{field_id}-error") is None


def test_invalid_login_form(client):
    client.get("/auth/login")
    for headers, full in ((HX, False), ({}, True)):
        response = client.post("/auth/login", headers=headers,
                               data={"email": "not-an-address", "password": ""})
        assert response.status_code == 422
        assert is_full_page(response) is full
        doc = parse(response.get_data(as_text=True))
        assert doc.by_id("login-form") is not None
        assert_field_error(doc, "email")
        assert_field_error(doc, "password")
        summary = doc.find_all(role="alert")
        assert summary, "no error summary"


def test_wrong_password_is_422_without_saying_which_field(client):
    patient = make_patient()
    client.get("/auth/login")
    response = client.post("/auth/login", headers=HX,
                           data={"email": patient.email, "password": "not the right one at all"})
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    assert_field_ok(doc, "email")
    assert_field_ok(doc, "password")
    assert "do not match an account" in doc.find_all(role="alert")[0].text


def test_invalid_invite_form(client, doctor):
    client.get("/clinic/")
    for headers, full in ((HX, False), ({}, True)):
        response = client.post("/clinic/invitations", headers=headers,
                               data={"name": "Someone", "email": "nope"})
        assert response.status_code == 422
        assert is_full_page(response) is full
        doc = parse(response.get_data(as_text=True))
        assert doc.by_id("invite-panel") is not None
        assert_field_error(doc, "email")
        assert_field_ok(doc, "name")
        # What was typed is still there.
        assert doc.by_id("name").attrs.get("value") == "Someone"
    assert db.session.scalar(select(User).where(User.name == "Someone")) is None


# --- portal/htmx.py helpers -------------------------------------------------------------

def test_trigger_merges_events():
    response = Response()
    htmx.trigger(response, "invited")
    htmx.trigger(response, "counts", {"pending": 3})
    assert json.loads(response.headers["HX-Trigger"]) == {"invited": None,
                                                          "counts": {"pending": 3}}
    # An HX-Trigger set as a plain list of names is kept too.
    response = Response(headers={"HX-Trigger": "a, b"})
    htmx.trigger(response, "c", "x")
    assert json.loads(response.headers["HX-Trigger"]) == {"a": None, "b": None, "c": "x"}


@pytest.mark.parametrize("how", ["beforebegin", "afterbegin", "innerHTML", "outerHTML",
                                 "beforeend", "afterend", "delete", "none",
                                 "outerHTML swap:200ms"])
def test_reswap_accepts_every_htmx_swap_style(how):
    assert htmx.reswap(Response(), how).headers["HX-Reswap"] == how


def test_reswap_rejects_unknown_styles():
    with pytest.raises(ValueError):
        htmx.reswap(Response(), "beforebeginafterbegin")  # what htmx-flask's typo accepts


def test_htmx_flask_still_has_the_reswap_bug():
    """Why portal/htmx.py sets HX-Reswap itself; when this fails, the wrapper may go."""
    from htmx_flask import make_response
    with pytest.raises(ValueError):
        make_response("", reswap="beforebegin")


def test_hx_redirect(app):
    with app.test_request_context("/"):
        response = htmx.hx_redirect("/clinic/")
        assert response.status_code == 303 and response.location == "/clinic/"
        assert "HX-Redirect" not in response.headers
    for headers in (HX, BOOSTED):
        with app.test_request_context("/", headers=headers):
            response = htmx.hx_redirect("/clinic/")
            assert response.status_code == 200
            assert response.headers["HX-Redirect"] == "/clinic/"
            assert "Location" not in response.headers


@pytest.mark.parametrize("headers,fragment", [({}, False), (HX, True), (BOOSTED, False),
                                              (HISTORY, False), ({"HX-Request": "false"}, False)])
def test_wants_fragment(app, headers, fragment):
    with app.test_request_context("/", headers=headers):
        assert htmx.wants_fragment() is fragment


def test_retarget(app):
    assert htmx.retarget(Response(), "#flash").headers["HX-Retarget"] == "#flash"


def test_only_portal_htmx_touches_hx_headers():
    """HX-* header names and request.htmx appear in code only in portal/htmx.py."""
    offenders = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        if path == ROOT / "portal" / "htmx.py":
            continue
        source = path.read_text()
        if re.search(r"request\s*\.\s*htmx", source):
            offenders.append(f"{path.relative_to(ROOT)}: request.htmx")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and re.search(r"hx-[a-z]", token.string, re.I):
                offenders.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.string}")
    assert offenders == []
