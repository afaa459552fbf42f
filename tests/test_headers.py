"""Security headers and a page markup the strict CSP can live with (SPEC 8.4), and production
configuration that refuses to start without its secrets."""
from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from portal import create_app
from portal.config import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, TestConfig
from tests.factories import make_admin, make_patient
from tests.markup import parse

HX = {"HX-Request": "true"}
A_KEY = Fernet.generate_key().decode()
A_SECRET = "s3cret-" * 6


def csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.fixture
def pages(client, auth):
    """One response of each kind, fetched the way a browser would."""
    got = {
        "public": client.get("/auth/login"),
        "public fragment": client.get("/auth/login", headers=HX),
        "redirect": client.get("/"),
        "health": client.get("/healthz"),
        "error": client.get("/no-such-page"),
        "static": client.get("/static/css/portal.css"),
    }
    auth.login(make_patient())
    got["signed in"] = client.get("/me/")
    got["signed in, second factor set-up"] = client.get("/auth/mfa/setup")
    got["signed in, account"] = client.get("/auth/account")
    got["signed in, error"] = client.get("/clinic/")  # a patient: 404
    for name, response in got.items():
        assert response.status_code in (200, 302, 303, 404), (name, response.status_code)
    assert got["static"].status_code == 200 and got["signed in"].status_code == 200
    return got


def test_content_security_policy(pages):
    for name, response in pages.items():
        directives = csp(response)
        header = response.headers["Content-Security-Policy"]
        assert directives.get("default-src") == ["'self'"], name
        assert directives.get("frame-ancestors") == ["'none'"], name
        assert "unsafe-inline" not in header and "unsafe-eval" not in header, name
        assert "unsafe-hashes" not in header, name
        for source in ("script-src", "style-src"):
            allowed = directives.get(source, directives["default-src"])
            assert not {"*", "data:", "http:", "https:"} & set(allowed), (name, source)


def test_other_security_headers(pages):
    for name, response in pages.items():
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Referrer-Policy") in (
            "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"), name
        assert "geolocation=()" in headers.get("Permissions-Policy", ""), name
        # Plain HTTP: no HSTS (it would be ignored, and breaks local development).
        assert "Strict-Transport-Security" not in headers, name


def test_nothing_the_portal_renders_is_cached(pages):
    for name, response in pages.items():
        if name == "static":
            continue
        assert "no-store" in response.headers.get("Cache-Control", ""), name


def test_hsts_only_over_https(client, auth):
    response = client.get("/auth/login", base_url="https://localhost")
    assert response.status_code == 200
    hsts = response.headers.get("Strict-Transport-Security", "")
    assert hsts.startswith("max-age=")
    assert int(hsts.split(";")[0].split("=")[1]) >= 180 * 24 * 3600
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers
    # Error pages over HTTPS too.
    missing = client.get("/no-such-page", base_url="https://localhost")
    assert missing.status_code == 404 and "Strict-Transport-Security" in missing.headers


# --- the markup: no inline script or style, htmx configured for the CSP ---------------

def test_no_inline_scripts_or_styles(pages, client, auth):
    auth.login(make_admin())  # the staff pages too
    html_pages = dict(pages)
    html_pages["worklist"] = client.get("/clinic/")
    html_pages["admin"] = client.get("/admin/")
    checked = 0
    for name, response in html_pages.items():
        if response.mimetype != "text/html" or not response.get_data():
            continue
        doc = parse(response.get_data(as_text=True))
        for script in doc.find_all("script"):
            assert not script.text.strip(), f"{name}: inline script"
            assert script.attrs.get("src"), f"{name}: script without src"
        assert not doc.find_all("style"), f"{name}: <style> element"
        styled = [e.tag for e in doc.elements if "style" in e.attrs]
        assert not styled, f"{name}: style= on {styled}"
        handlers = [(e.tag, a) for e in doc.elements for a in e.attrs if a.startswith("on")]
        assert not handlers, f"{name}: inline event handlers {handlers}"
        checked += 1
    assert checked >= 8


def test_htmx_config_meta(client):
    doc = parse(client.get("/auth/login").get_data(as_text=True))
    metas = doc.find_all("meta", name="htmx-config")
    assert len(metas) == 1
    config = json.loads(metas[0].attrs["content"])
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["historyCacheSize"] == 0


def test_body_carries_the_csrf_token(client, auth):
    for path in ("/auth/login", "/me/"):
        if path == "/me/":
            auth.login(make_patient())
        doc = parse(client.get(path).get_data(as_text=True))
        bodies = doc.find_all("body")
        assert len(bodies) == 1
        token = json.loads(bodies[0].attrs["data-hx-headers"])["X-CSRFToken"]
        assert len(token) > 20
        # The same token the plain (no-JavaScript) forms on the page carry.
        hidden = {e.attrs.get("value") for e in doc.find_all("input", name="csrf_token")}
        assert hidden == {token}, path


# --- production configuration -----------------------------------------------------------

def _production(**overrides) -> dict:
    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(ENV_NAME="production", TESTING=False, SQLALCHEMY_DATABASE_URI="sqlite://",
               SECRET_KEY="", ENCRYPTION_KEYS="")
    cfg.update(overrides)
    return cfg


@pytest.mark.parametrize("overrides,missing", [
    ({}, ["SECRET_KEY", "ENCRYPTION_KEYS"]),
    ({"SECRET_KEY": DEV_SECRET_KEY, "ENCRYPTION_KEYS": DEV_ENCRYPTION_KEY},
     ["SECRET_KEY", "ENCRYPTION_KEYS"]),
    ({"SECRET_KEY": A_SECRET}, ["ENCRYPTION_KEYS"]),
    ({"ENCRYPTION_KEYS": A_KEY}, ["SECRET_KEY"]),
])
def test_production_refuses_to_start_without_secrets(overrides, missing):
    with pytest.raises(RuntimeError) as error:
        create_app(_production(**overrides))
    for name in missing:
        assert name in str(error.value)
    for name in {"SECRET_KEY", "ENCRYPTION_KEYS"} - set(missing):
        assert name not in str(error.value)


def test_production_starts_with_its_secrets():
    app = create_app(_production(SECRET_KEY=A_SECRET, ENCRYPTION_KEYS=A_KEY))
    assert app.config["ENV_NAME"] == "production"


def test_development_starts_without_secrets():
    create_app(_production(ENV_NAME="development"))


# --- behind a reverse proxy -------------------------------------------------------------

@pytest.fixture
def behind_proxy(app_config):
    app_config["PROXY_FIX_X_PROTO"] = 1


def test_proxy_fix_trusts_x_forwarded_proto_when_configured(behind_proxy, client):
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in response.headers
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


def test_x_forwarded_proto_is_ignored_without_a_proxy(client):
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
