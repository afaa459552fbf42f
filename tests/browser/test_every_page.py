"""Every page of the portal at 320, 390 and 1280 px, in English and in French (SPEC 8.2,
issue 15): signed out, patient, practitioner and admin. On each page, at each width: the page
does not scroll sideways (``scrollWidth <= clientWidth``), axe-core finds no violation, every
control people tap is at least 44x44 px where it responds (choices measured by their label,
the box people see), and no visible text is under 16 px (chart text inside SVG excepted).
A screenshot of each page at 390 px lands in test-artifacts/.

It is built to be quick: the demo clinic is made once for the module, each person signs in
once per language, and each page is loaded once and measured at the three widths by
resizing the window."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask_babel import force_locale, gettext
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from portal import clock, create_app, crypto
from portal.extensions import db
from portal.models import AccountToken, OutboxMessage, SessionRating, TreatmentSession, User
from tests.browser.helpers import (
    console_problems,
    enter_code,
    horizontal_overflow,
    sign_in,
    small_text,
    small_touch_targets,
    totp_now,
    watch_console,
)
from tests.conftest import ARTIFACTS, _config, _database_url
from tests.factories import PASSWORD, make_admin

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1280)
SCREENSHOT_WIDTH = 390
LANGS = {"en": "en-CA", "fr": "fr-CA"}
LOCALES = {"en": "en", "fr": "fr_CA"}
MIN_TARGET = 44
MIN_TEXT = 16

# Failures still expected, each with its reason: "lang/width/page/check" -> why. Every entry
# is asserted to still fail, so a fixed one must be removed from here (it cannot rot).
KNOWN: dict[str, str] = {}

_AXE = Axe().axe_script
_SETTLE = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


# --- the clinic, once for the module -----------------------------------------------------

@dataclass
class Clinic:
    url: str
    app: Flask
    staff: dict[str, tuple[str, str]]  # role/lang -> (email, TOTP secret)
    pages: dict[str, str] = field(default_factory=dict)  # placeholders -> real ids

    def t(self, lang: str):
        def translate(msgid: str, **params) -> str:
            with self.app.test_request_context(), force_locale(LOCALES[lang]):
                return gettext(msgid, **params)
        return translate


def _token(user: User, purpose: str) -> str:
    raw = crypto.new_token()
    db.session.add(AccountToken(user=user, purpose=purpose, token_hash=crypto.token_hash(raw),
                                created_at=clock.now(),
                                expires_at=clock.now() + timedelta(days=30)))
    return raw


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    assert user is not None, f"the demo clinic has {email}"
    return user


def _seed() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    from portal.demo import clinic as demo

    seeded = demo.seed(PASSWORD)
    secrets = {email: secret for email, _role, secret in seeded.staff}
    french_admin = make_admin(locale="fr_CA", name="Dominique Admin")
    staff = {"practitioner/en": ("dr.lee@example.com", secrets["dr.lee@example.com"]),
             "practitioner/fr": ("dr.tremblay@example.com", secrets["dr.tremblay@example.com"]),
             "admin/en": ("admin@example.com", secrets["admin@example.com"]),
             "admin/fr": (french_admin.email, french_admin.totp_secret_plain)}
    treated = _user("patient03@example.com").patient  # in treatment, one session not rated
    assert treated is not None
    rated = select(SessionRating.session_id)
    unrated = db.session.scalar(
        select(TreatmentSession).where(TreatmentSession.patient_id == treated.id,
                                       TreatmentSession.id.not_in(rated))
        .order_by(TreatmentSession.treated_at.desc()))
    assert unrated is not None, "the demo's patient03 has a session to rate"
    sessions = db.session.scalars(select(TreatmentSession)
                                  .where(TreatmentSession.patient_id == treated.id)).all()
    ids = {"<chart>": treated.public_id, "<unrated>": unrated.public_id,
           "<session>": sessions[0].public_id,
           "<invite>": _token(_user("patient05@example.com"), "invite"),
           "<reset>": _token(_user("patient03@example.com"), "reset")}
    # One undelivered e-mail, so the admin's list is drawn.
    db.session.add(OutboxMessage(kind="invitation", to_addr="nobody@example.org",
                                 subject="Your invitation", body_text="Hello",
                                 status="failed", attempts=8, created_at=clock.now(),
                                 next_attempt_at=clock.now(), last_error="550 no such user"))
    db.session.commit()
    # Follow-ups after discharge (SPEC 12.1): one answered, one e-mailed and open.
    from tests.pages import _followed_patient
    followed, follow_ups = _followed_patient(_user("dr.lee@example.com"))
    ids.update({"<follow-up-token>": follow_ups["follow_up_token"],
                "<follow-up>": follow_ups["follow_up"],
                "<follow-up-answered-token>": follow_ups["follow_up_answered_token"]})
    FOLLOWED["email"] = followed.email
    # The privacy incident register's entry (SPEC 11.2).
    from tests.pages import _privacy_incident
    ids["<incident>"] = _privacy_incident(_user("admin@example.com"), treated)
    # The requests register (SPEC 11.2): an access request, a correction answered, one open.
    from tests.pages import _record_requests
    made = _record_requests(_user("admin@example.com"), _user("dr.lee@example.com"),
                            _user("patient03@example.com"))
    ids.update({"<access-request>": made["access_request"],
                "<correction-open>": made["correction_open"]})
    # A withdrawal of consent waiting for Dr. Lee, and an account closed (SPEC 11.1).
    from portal.demo import withdrawals
    from tests.pages import _closed_account
    withdrawn = withdrawals.seed(_user("dr.lee@example.com"))
    assert withdrawn is not None
    ids.update({"<withdrawn>": withdrawn.public_id, "<closed>": _closed_account()})
    return staff, ids


@pytest.fixture(scope="module")
def clinic(database, tmp_path_factory) -> Iterator[Clinic]:
    tmp = tmp_path_factory.mktemp("every-page")
    app = create_app(_config(_database_url(database, tmp), tmp))
    ctx = app.app_context()
    ctx.push()
    staff, ids = _seed()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    try:
        yield Clinic(url, app, staff, ids)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        db.session.remove()
        db.engine.dispose()
        ctx.pop()


def _as_locale(email: str, lang: str) -> None:
    """The person reads the portal in ``lang`` (their saved preference)."""
    user = _user(email)
    user.locale = LOCALES[lang]
    db.session.commit()


# --- measuring one page ------------------------------------------------------------------

@dataclass
class Walk:
    lang: str
    clinic: Clinic
    context: BrowserContext
    page: Page
    found: dict[str, str] = field(default_factory=dict)  # "lang/width/page/check" -> detail
    seen: list[str] = field(default_factory=list)

    def visit(self, name: str, path: str, status: int = 200) -> None:
        for placeholder, real in self.clinic.pages.items():
            path = path.replace(placeholder, real)
        response = self.page.goto(self.clinic.url + path)
        assert response is not None and response.status == status, \
            f"{name}: {path} answered {response and response.status}, expected {status}"
        self.measure(name)

    def measure(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        self.seen.append(name)
        page.evaluate(_AXE)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 844 if width < 1000 else 900})
            page.evaluate(_SETTLE)
            key = f"{self.lang}/{width}/{name}"
            if width == SCREENSHOT_WIDTH:
                page.screenshot(path=str(ARTIFACTS / f"page-{width}-{self.lang}-{name}.png"),
                                full_page=True)
            over = horizontal_overflow(page)
            if over:
                self.found[f"{key}/scroll"] = f"{over} px wider than the window: " \
                    + ", ".join(page.evaluate(_WIDE_JS))
            violations = page.evaluate(
                "() => axe.run({resultTypes: ['violations']}).then(r => r.violations.map("
                "v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).slice(0, 4)"
                ".join(' | ')))")
            if violations:
                self.found[f"{key}/axe"] = "; ".join(violations)
            small = small_touch_targets(page)
            if small:
                self.found[f"{key}/targets"] = "; ".join(small[:8])
            text = small_text(page, MIN_TEXT)
            if text["small"]:
                self.found[f"{key}/text"] = "; ".join(text["small"])
        problems = console_problems(self.context)
        assert not problems, "\n".join(problems)


# The widest elements poking out of the window, to say where the page is too wide.
_WIDE_JS = """
() => {
  const limit = document.documentElement.clientWidth;
  return Array.from(document.body.querySelectorAll('*'))
    .filter(el => el.getBoundingClientRect().right > limit + 0.5)
    .filter(el => !el.parentElement
                  || el.parentElement.getBoundingClientRect().right <= limit + 0.5)
    .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right)
    .slice(0, 4)
    .map(el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
               + `${el.className && typeof el.className === 'string'
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : ''}`
               + ` (right ${Math.round(el.getBoundingClientRect().right)})`);
}
"""


@pytest.fixture
def walk(request, clinic: Clinic, browser: Browser) -> Iterator[Walk]:
    lang = request.param
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(locale=LANGS[lang],
                                  viewport={"width": WIDTHS[0], "height": 844})
    watch_console(context)
    page = context.new_page()
    yield Walk(lang, clinic, context, page)
    context.close()


def _judge(walk: Walk, pages: list[str]) -> None:
    """Everything found is either known (with its reason) or a failure; every known failure
    of these pages must still be found."""
    assert walk.seen == pages, "every page of the list was measured"
    mine = {k for k in KNOWN if k.split("/")[0] == walk.lang and k.split("/")[2] in pages}
    new = {k: v for k, v in walk.found.items() if k not in KNOWN}
    fixed = sorted(mine - walk.found.keys())
    report = "\n".join(f"{k}: {v}" for k, v in sorted(new.items()))
    assert not new, f"{len(new)} problems:\n{report}"
    assert not fixed, "fixed (remove from KNOWN): " + ", ".join(fixed)


def _signed_in(walk: Walk, email: str, role: str) -> None:
    t = walk.clinic.t(walk.lang)
    _as_locale(email, walk.lang)
    sign_in(walk.page, walk.clinic.url, email, PASSWORD, t)
    if role != "patient":
        secret = walk.clinic.staff[f"{role}/{walk.lang}"][1]
        expect(walk.page).to_have_url(re.compile(r"/auth/mfa$"))
        if role == "practitioner":
            walk.measure("sign-in-code")  # the second step, the same for every staff member
        enter_code(walk.page, totp_now(secret), t)
    expect(walk.page).not_to_have_url(re.compile(r"/auth/(login|mfa)$"))


# --- the pages -----------------------------------------------------------------------------

SIGNED_OUT = [("sign-in", "/auth/login", 200),
              ("reset-request", "/auth/reset", 200),
              ("reset-password", "/auth/reset/<reset>", 200),
              ("reset-link-invalid", "/auth/reset/not-a-real-token", 404),
              ("invitation", "/auth/invite/<invite>", 200),
              ("not-found", "/no-such-page", 404),
              ("follow-up-form", "/follow-up/<follow-up-token>", 200),
              ("follow-up-decline", "/follow-up/<follow-up-token>/decline", 200),
              ("follow-up-answered", "/follow-up/<follow-up-answered-token>", 200),
              ("follow-up-link-invalid", "/follow-up/not-a-real-token", 404)]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_signed_out(walk: Walk):
    for name, path, status in SIGNED_OUT:
        walk.visit(name, path, status)
    _judge(walk, [name for name, _p, _s in SIGNED_OUT])


PATIENT_INTAKE = "patient@example.com"  # half-way through the intake
PATIENT_TREATED = "patient03@example.com"  # in treatment


def _intake_steps(clinic: Clinic) -> int:
    from portal.intake import services
    return services.current_definition().step_count


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_patient_intake(walk: Walk):
    _signed_in(walk, PATIENT_INTAKE, "patient")
    names = []
    for step in range(1, _intake_steps(walk.clinic) + 1):
        walk.visit(f"intake-step-{step}", f"/me/intake/{step}")
        names.append(f"intake-step-{step}")
    walk.visit("intake-consent", "/me/intake/consent")
    walk.visit("patient-home-intake", "/me/")
    _judge(walk, [*names, "intake-consent", "patient-home-intake"])


PATIENT = [("patient-home", "/me/", 200),
           ("intake-summary", "/me/intake/summary", 200),
           ("documents", "/me/documents/", 200),
           ("clearance-upload", "/me/documents/clearance", 200),
           ("intake-amend", "/me/intake/amend/1", 200),
           ("consent-signed", "/me/intake/consent", 200),
           ("consent-withdraw", "/me/intake/consent/withdraw", 200),
           ("sessions", "/me/sessions/", 200),
           ("rating", "/me/sessions/<unrated>/rating", 200),
           ("progress", "/me/progress", 200),
           ("problem", "/me/problem", 200),
           ("patient-account", "/auth/account", 200),
           ("correction-request", "/me/record/correction", 200),
           ("close-account", "/me/record/close", 200),
           ("not-found-signed-in", "/clinic/", 404)]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_patient(walk: Walk):
    _signed_in(walk, PATIENT_TREATED, "patient")
    for name, path, status in PATIENT:
        walk.visit(name, path, status)
    _judge(walk, [name for name, _p, _s in PATIENT])


FOLLOWED: dict[str, str] = {}  # the discharged patient's e-mail, set by _seed
FOLLOWED_PAGES = [("patient-home-follow-up", "/me/", 200),
                  ("my-follow-ups", "/me/follow-ups", 200),
                  ("follow-up-signed-in", "/me/follow-ups/<follow-up>", 200)]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_followed_patient(walk: Walk):
    _signed_in(walk, FOLLOWED["email"], "patient")
    for name, path, status in FOLLOWED_PAGES:
        walk.visit(name, path, status)
    _judge(walk, [name for name, _p, _s in FOLLOWED_PAGES])



MY_RECORD = ["my-record", "record-confirm", "record-page"]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_patient_record(walk: Walk):
    """My record (SPEC 11.1): the hub, the password asked, and the record it opens."""
    _signed_in(walk, PATIENT_TREATED, "patient")
    walk.visit("my-record", "/me/record")
    walk.visit("record-confirm", "/me/record/page")
    walk.page.locator("#confirm-password").fill(PASSWORD)
    walk.page.locator("form.confirm-password button[type=submit]").click()
    walk.page.wait_for_selector("#record-title")
    walk.measure("record-page")
    _judge(walk, MY_RECORD)

PRACTITIONER = [("worklist", "/clinic/", 200),
                ("patients", "/clinic/patients/", 200),
                ("patient-search", "/clinic/patients/?q=a", 200),
                ("chart-summary", "/clinic/patients/<chart>/", 200),
                ("chart-intake", "/clinic/patients/<chart>/intake", 200),
                ("chart-sessions", "/clinic/patients/<chart>/sessions", 200),
                ("chart-ratings", "/clinic/patients/<chart>/ratings", 200),
                ("chart-documents", "/clinic/patients/<chart>/documents", 200),
                ("chart-activity", "/clinic/patients/<chart>/activity", 200),
                ("chart-withdrawal", "/clinic/patients/<withdrawn>/", 200),
                ("chart-closed", "/clinic/patients/<closed>/", 200),
                ("session-correct", "/clinic/sessions/<session>/correct", 200),
                ("printable-summary", "/clinic/patients/<chart>/summary", 200),
                ("outcomes", "/clinic/outcomes", 200),
                ("outcomes-report", "/clinic/outcomes/report?from=2025-01-01&to=2030-12-31", 200),
                ("correction-answer", "/clinic/patients/<chart>/requests/<correction-open>", 200),
                ("practitioner-account", "/auth/account", 200)]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_practitioner(walk: Walk):
    _signed_in(walk, walk.clinic.staff[f"practitioner/{walk.lang}"][0], "practitioner")
    for name, path, status in PRACTITIONER:
        walk.visit(name, path, status)
    _judge(walk, ["sign-in-code", *(name for name, _p, _s in PRACTITIONER)])


ADMIN = [("admin-home", "/admin/", 200),
         ("audit-log", "/admin/audit", 200),
         ("audit-search", "/admin/audit?actor=dr.lee%40example.com", 200),
         ("incidents", "/admin/incidents", 200),
         ("incident-new", "/admin/incidents/new", 200),
         ("incident", "/admin/incidents/<incident>", 200),
         ("requests", "/admin/requests?state=all", 200),
         ("request-new", "/admin/requests/new", 200),
         ("request", "/admin/requests/<access-request>", 200),
         ("admin-account", "/auth/account", 200)]


@pytest.mark.parametrize("walk", list(LANGS), indirect=True)
def test_admin(walk: Walk):
    _signed_in(walk, walk.clinic.staff[f"admin/{walk.lang}"][0], "admin")
    for name, path, status in ADMIN:
        walk.visit(name, path, status)
    _judge(walk, [name for name, _p, _s in ADMIN])


def test_known_failures_name_real_pages():
    """Each expected exception names a page this module walks, a width, a language and a
    check, with a reason."""
    pages = {n for n, _p, _s in SIGNED_OUT + PATIENT + FOLLOWED_PAGES + PRACTITIONER + ADMIN}
    pages |= {"intake-consent", "patient-home-intake", "sign-in-code"}
    pages |= set(MY_RECORD)
    for key, why in KNOWN.items():
        lang, width, name, check = key.split("/")
        assert lang in LANGS and int(width) in WIDTHS and check in {
            "scroll", "axe", "targets", "text"}, key
        assert name in pages or name.startswith("intake-step-"), key
        assert len(why) > 10, key

