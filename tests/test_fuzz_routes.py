"""No input gets a 500 (SPEC 8.8): generated values for every route of ``app.url_map``, every
method, every query parameter and form field the portal reads, as a visitor, a patient, a
practitioner and an admin, on the backend under test (SQLite or PostgreSQL).

Each round sends one request to every rule and method (static files aside): the address's
variables filled with real ids or hostile ones (huge and negative integers, control
characters, NUL, invalid UTF-8 escapes, very long text), a query string or form drawn from
the names the views and their forms read, sometimes as htmx, POSTs with the session's CSRF
token so that they reach the view. Any answer of 500 or more, or an exception, is kept with
the request that caused it; the test fails listing them all. Hypothesis draws the values
(derandomized: the same requests on every run); FUZZ_ROUNDS sets how many rounds (the
default keeps the suite's run short; raise it to search harder) and FUZZ_RANDOM=1 draws
other values on each run; FUZZ_REPORT=1 prints how each route answered.
"""
from __future__ import annotations

import base64
import functools
import inspect
import io
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter
from wtforms.fields.core import UnboundField

from portal import clock
from portal.clinic.worklist import services as worklist
from portal.demo import samples
from portal.intake.definitions import FOLDER, load_folder
from portal.intake.forms import step_form_class
from tests.auth.helpers import code_for, start_of_step
from tests.conftest import CSRFClient
from tests.factories import PASSWORD
from tests.intake.helpers import FORM as INTAKE_FORM
from tests.intake.helpers import make_intake
from tests.test_access_matrix import people  # noqa: F401  (the fixture: one of everything)
from tests.treatment.helpers import REGION
from tests.treatment.helpers import form_data as rating_form

ROUNDS = int(os.environ.get("FUZZ_ROUNDS", "7"))
BATCH = 25  # routes drawn for in one example (see the test)
DERANDOMIZE = not os.environ.get("FUZZ_RANDOM")  # FUZZ_RANDOM=1: other values each run
ROLES = ("visitor", "patient_a", "practitioner", "admin")
# Requests that end the session run last in a round; the next round signs in again.
ENDS_SESSION = ("auth.logout", "auth.account_revoke_sessions")
# The variable of an address that names each kind of record.
VARIABLES = {"Patient": "patient_id", "User": "public_id", "Document": "public_id",
             "TreatmentSession": "session_id", "SessionRating": "rating_id",
             "OutboxMessage": "message_id"}
HOMES = {"patient_a": "/me/", "practitioner": "/clinic/", "admin": "/admin/"}


@pytest.fixture
def app_config(app_config):
    # Hundreds of requests to the sign-in pages per round; the limiter has its own tests.
    app_config["RATELIMIT_ENABLED"] = False
    return app_config


# --- values -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Raw:
    """Sent as it is, not percent-encoded: bytes that are not UTF-8 (a lone continuation
    byte, an encoded surrogate, an overlong form) or a broken escape."""
    text: str


RAW = [Raw("%ff"), Raw("%ed%a0%80"), Raw("%c0%af"), Raw("%80"), Raw("%e2%82"), Raw("%zz"),
       Raw("%"), Raw("a%00b"), Raw("%f4%90%80%80")]
BIG = ["2147483647", "2147483648", "-2147483649", "9223372036854775807",
       "9223372036854775808", "18446744073709551616", "9" * 40, "-" + "9" * 40, "1e309",
       "1" + "0" * 400]
ODD_NUMBERS = ["", " ", "0", "1", "-1", "-0", "0.5", "1.5", "NaN", "nan", "inf", "-inf",
               "0x1f", "1_000", "١٢", "１２", "+5", " 7 ", "10", "11", "99"]
DATES = ["2026-01-01", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31",
         "10000-01-01", "-2026-01-01", "1900-01-01", "0000-00-00", "2026-1-1", "01/02/2026",
         "31/02/2027", "2026-01-01T25:00", "23:59", "24:00", "99:99", "00:00", "12:30"]
TEXT = ["a\x01b", "\x1b[31m", "\x7f", "\x08", "\r\n", "line\nbreak", "\t", "\x0b\x0c",
        "\u0085", "\u2028", "\u202e", "\ufeff", "\ufffd", "\U0001f600", "Z\u0301", "é",
        "x" * 256, "x" * 1000, "y" * 6000, "' OR '1'='1", "<script>alert(1)</script>",
        "{{7*7}}", "%", "%%", "_", "\\", "../../etc/passwd", "//evil.example/",
        "https://evil.example/", "javascript:alert(1)", "a@b", "user@example.org",
        "x" * 300 + "@example.org", "on", "true", "yes", "no", "y", "en", "fr_CA", "xx",
        "admin", "patient", "practitioner", "accepted", "rejected", "pending", "improved",
        "activity", "name", "red-flags", "\x00"]


# Addresses that urllib cannot take apart (an unclosed IPv6 bracket, a port out of range),
# and others that try to leave the site.
URLS = ["http://[", "//[::1", "http://[::1]:99999/", "https://user@[bad]/", "http://a:b:c/",
        "/%2e%2e/admin/", "/\t/evil", "/ok?next=http://[", "[", "]", "http://127.0.0.1:0",
        "\\evil.example\\", "/me/", "/clinic/patients/?q=x"]


# Files for the multipart posts: empty, a few bytes, a PDF header and no PDF, a real PDF;
# names a device could send.
FILES = [b"", b"x", b"%PDF-1.7\n%%EOF\n", b"\x89PNG\r\n\x1a\n", samples.pdf(["Fuzz"])]
FILE_NAMES = ["", ".pdf", "a" * 1000 + ".pdf", "../../etc/passwd", "con.pdf", "\x01.pdf",
              "\u202efdp.exe", "x.PDF", "noext", "a/b\\c.jpg", "é.heic", " .pdf "]


def _cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


CURSORS = [_cursor("activity", "2026-01-01T00:00:00+00:00", "9" * 23),
           _cursor("improved", "9" * 30, "1"), _cursor("name", "\x01", "-1"),
           _cursor("x"), "!!!", "=" * 8, _cursor("activity", "9999-99-99", "1"),
           _cursor("activity", "0001-01-01T00:00:00+01:00", "1"),
           _cursor("activity", "9999-12-31T23:59:59-14:00", "2")]
SPECIAL = [*BIG, *ODD_NUMBERS, *DATES, *TEXT, *CURSORS, *URLS]
# Headers the portal reads (htmx's, the language, the referrer, the browser's name): values
# a server can receive, so Latin-1 without line breaks.
HEADERS = ["Referer", "HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name",
           "HX-Boosted", "HX-History-Restore-Request", "HX-Prompt", "Accept-Language",
           "User-Agent", "Origin", "X-Requested-With"]
HEADER_VALUES = [*URLS, "", "true", "false", "fr-CA,fr;q=0.9", "*;q=abc", "xx-YY, ;q=2",
                 "x" * 5000, "Mozilla/5.0 " + "(" * 300, "\x7f\x01", "é\xff"]


def values(ids: list[str]):
    one = st.one_of(st.sampled_from(SPECIAL), st.sampled_from(RAW),
                    st.sampled_from(ids or ["none"]),
                    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
                    st.text(max_size=24))
    return st.one_of(one, st.lists(one, min_size=2, max_size=3))


def path_value(converter, real: list[str]):
    """A value for one variable of an address: one of the world's real ones for it half of
    the time (so that the view goes past its lookup), else anything."""
    if isinstance(converter, IntegerConverter):
        anything = st.one_of(st.integers(min_value=0, max_value=2 ** 70).map(str),
                             st.sampled_from([*BIG[:6], "-1", "00", "1.0", "x"]))
    else:
        anything = st.one_of(st.sampled_from(SPECIAL), st.sampled_from(RAW),
                             st.text(min_size=1, max_size=24))
    return st.one_of(st.sampled_from(real), anything) if real else anything


# --- valid requests, to spoil one field at a time ---------------------------------------------

def valid_bases(people: dict) -> dict[str, dict]:
    """For the forms that change something, what a browser would send to succeed: a round
    sends either anything or one of these with one to three fields replaced (a form that
    fails on its first field never reaches its writes). The current password is never
    among them: a fuzzed change would lock the round out."""
    today = clock.now().date().isoformat()
    docs = [people[name].public_id for name in ("doc_a", "doc_a_spare")]
    intake = {k: v for step in (1, 2, 3, 4) for k, v in INTAKE_FORM[step].items()}
    session = {"day": today, "time": "10:30", "regions": REGION, "nprs_before": "5",
               "notes": "Tight quadratus lumborum."}
    period = {"date_from": "2025-01-01", "date_to": today}
    return {
        "admin.invite_staff": {"name": "Dr. New Colleague", "email": "new.colleague@example.org",
                               "role": "practitioner"},
        "admin.settings": {"name": "IMS Clinic", "timezone": "America/Vancouver",
                           "self_registration": "y"},
        "admin.audit": {"patient": "Patient", "actor": "example", "action": "document.accepted",
                        **period},
        "admin.audit_csv": {"patient": "Patient A", **period},
        "clinic.invite_patient": {"name": "New Patient", "email": "new.patient@example.org"},
        "clinic.outcomes": {"practitioner": people["practitioner"].public_id, **period},
        "clinic.outcomes_csv": {"practitioner": people["practitioner"].public_id, **period},
        "clinic.outcomes_report": {"from": "2025-01-01", "to": today},
        "clinic.patients": {"q": "Patient", "status": "in_treatment", "sort": "name"},
        "clinic.chart_discharge": {"discharge-reason": "other"},
        "core.set_language": {"lang": "fr_CA", "next": "/auth/reset"},
        "auth.login": {"email": people["patient_b"].email, "password": "not the password"},
        "auth.reset_request": {"email": people["patient_b"].email},
        "auth.account_password": {"current": "not the password",
                                  "password": "a brand new passphrase", "confirm":
                                  "a brand new passphrase"},
        "auth.mfa": {"code": "123456"},
        "intake.consent": {"name": "Patient A", "agree": "y"},
        "intake.save": {**intake, "action": "next"},
        "intake.autosave": intake,
        "intake.amend": {**intake, "reason": "I remembered better."},
        "treatment.record_session": {**session, "override_reason": "Seen in person.",
                                     "form_key": "fuzz-form-key"},
        "treatment.correct_session": {**session, "reason": "Wrong time."},
        "treatment.cancel_session": {"cancel_reason": "The patient was unwell."},
        "treatment.set_baseline": {"baseline": "6", "baseline_reason": "Asked again."},
        "treatment.rate": rating_form(4, psfs=[3, 5], comment="Better."),
        "documents.accept": {**{f"accept-{d}-valid_until": today for d in docs},
                             **{f"accept-{d}-letter_date": today for d in docs}},
        "documents.reject": {f"reject-{d}-reason": "Not signed." for d in docs},
    }


# --- the names the portal reads -------------------------------------------------------------

_READ = re.compile(r"""request\.(?:args|form|values)\.get(?:list)?\(\s*["']([\w-]+)["']""")


def _form_classes() -> list[type]:
    found, todo = [], [FlaskForm]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("portal.")]


def _fields(cls: type) -> set[str]:
    return {name for name in dir(cls) if isinstance(getattr(cls, name, None), UnboundField)}


@functools.cache
def _intake_fields() -> frozenset[str]:
    definition = load_folder(FOLDER).questionnaire("ims_intake")
    names: set[str] = set()
    for step in definition.steps:
        if step.kind == "questions":
            form = step_form_class(definition, step, "en", date(2026, 1, 1))
            names |= {f.name for f in form(formdata=None, meta={"csrf": False})}
    return frozenset(names)


def _source(module_name: str) -> str:
    module = sys.modules.get(module_name)
    try:
        return inspect.getsource(module) if module else ""
    except (OSError, TypeError):
        return ""


@functools.cache
def all_names() -> tuple[str, ...]:
    names = {"next", "lang", "before", "after", "v", "kind", "who", "final", "revision",
             "editor", "action", "page", "sort", "q", "csrf_token", "id", "step",
             *[f"psfs_{i}" for i in range(3)], "psfs-0-activity", "psfs-0-score"}
    for cls in _form_classes():
        names |= _fields(cls)
    for module_name in list(sys.modules):
        if module_name.startswith("portal."):
            names |= set(_READ.findall(_source(module_name)))
    return tuple(sorted(names | _intake_fields()))


@functools.cache
def names_for(view_module: str) -> tuple[str, ...]:
    """The names a view's module (and its package's forms) mentions: a field ``name``
    appears as "name" or .name there. The intake's questions for the intake's views."""
    package = view_module.rsplit(".", 1)[0]
    source = _source(view_module) + _source(package + ".forms")
    found = {n for n in all_names() if re.search(rf"""["'.]{re.escape(n)}\b""", source)}
    if package.endswith("intake"):
        found |= _intake_fields()
    return tuple(sorted(found)) or ("q",)


# --- requests -------------------------------------------------------------------------------

@dataclass
class Target:
    endpoint: str
    rule: object
    method: str
    view_module: str


def targets(app) -> list[Target]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        module = inspect.unwrap(view).__module__
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(Target(rule.endpoint, rule, method, module))
    return sorted(found, key=lambda t: t.endpoint in ENDS_SESSION)


def _encode(value) -> str:
    return value.text if isinstance(value, Raw) else quote(str(value), safe="")


def _pairs(params: dict) -> str:
    out = []
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            out.append(f"{_encode(key)}={_encode(one)}")
    return "&".join(out)


_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@st.composite
def requests(draw, target: Target, world: dict):
    rule = target.rule
    path = _VARIABLE.sub(
        lambda m: _encode(draw(path_value(rule._converters[m.group(1)],
                                          world["by_variable"].get(m.group(1), [])))),
        rule.rule)
    names = names_for(target.view_module)
    keys = st.one_of(st.sampled_from(names), st.sampled_from(names),
                     st.sampled_from(world["prefixed"]), st.sampled_from(all_names()),
                     st.text(min_size=1, max_size=12))
    base = world["valid"].get(target.endpoint)
    params = draw(st.dictionaries(keys, values(world["ids"]), max_size=6 if base is None else 2))
    if base is not None and draw(st.booleans()):
        spoilt = draw(st.lists(st.sampled_from(sorted(base)), min_size=1, max_size=3))
        edge = st.one_of(st.sampled_from(SPECIAL), st.sampled_from(SPECIAL),
                         values(world["ids"]))
        params = {**base, **{k: draw(edge) for k in spoilt}, **params}
    headers = draw(st.dictionaries(st.sampled_from(HEADERS), st.one_of(
        st.sampled_from(HEADER_VALUES), st.text(st.characters(max_codepoint=255,
                                                               blacklist_characters="\r\n\x00"),
                                                max_size=40)), max_size=3))
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
    files = None  # urlencoded; a list: multipart, with these files
    if target.method == "POST" and draw(st.integers(0, 3)) == 0:
        files = draw(st.lists(st.tuples(st.sampled_from(FILES), st.one_of(
            st.sampled_from(FILE_NAMES), st.text(max_size=30))), min_size=0, max_size=2))
    return target.method, path, params, headers, files


def _multipart(params: dict, files: list) -> dict:
    data: dict = {}
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            data.setdefault(key, []).append(one.text if isinstance(one, Raw) else str(one))
    data.setdefault("files", []).extend((io.BytesIO(content), name) for content, name in files)
    return data


def send(client: CSRFClient, method: str, path: str, params: dict, headers: dict,
         files: list | None) -> int:
    """The status; the whole body is read, so a stream that fails half-way is seen too."""
    encoded = _pairs(params)
    if method == "GET":
        response = client.open(path + ("?" + encoded if encoded else ""), method="GET",
                               headers=headers)
    elif files is not None:
        response = client.open(path, method=method, data=_multipart(params, files),
                               headers=headers, content_type="multipart/form-data")
    else:
        response = client.open(path, method=method, data=encoded, headers=headers,
                               content_type="application/x-www-form-urlencoded")
    response.get_data()
    return response.status_code


# --- the signed-in visitor --------------------------------------------------------------------

def sign_in(client: CSRFClient, user) -> None:
    """Password, then a second-factor code of the portal's clock (codes are single-use: a
    new 30-second step each time)."""
    clock.advance(seconds=30)
    start_of_step()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    if "/auth/mfa" in response.location:
        response = client.post("/auth/mfa", data={"code": code_for(user.totp_secret_plain)})
        assert response.status_code == 303, response.get_data(as_text=True)[:300]


def keep_signed_in(client: CSRFClient, role: str, people: dict) -> None:
    if role == "visitor":
        return
    if client.get(HOMES[role]).status_code != 200:
        client.token = None
        sign_in(client, people[role])
        assert client.get(HOMES[role]).status_code == 200, f"{role} could not sign in again"


def world_of(people: dict) -> dict:
    """The real values of the access matrix's people and records, by the address variable
    that names them, and every id among the values a field may get."""
    by_variable: dict[str, list[str]] = {
        "step": [str(n) for n in range(0, 11)], "section": list(worklist.SECTIONS)}
    for thing in people.values():
        variable = VARIABLES.get(type(thing).__name__)
        if variable is None:
            continue
        value = str(getattr(thing, "public_id", None) or thing.id)
        by_variable.setdefault(variable, []).append(value)
    prefixed = [f"{form}-{people[name].public_id}-{field}"
                for name in ("doc_a", "doc_a_spare") for form, field in
                (("accept", "valid_until"), ("reject", "reason"))]
    ids = [v for k, found in by_variable.items() if k not in ("step", "section") for v in found]
    return {"by_variable": by_variable, "ids": ids, "prefixed": prefixed,
            "valid": valid_bases(people)}


def _describe(method: str, path: str, params: dict, headers: dict,
              files: list | None) -> str:
    encoded = _pairs(params)
    where = path + (f"?{encoded}" if method == "GET" and encoded else "")
    body = f" body={encoded[:300]!r}" if method != "GET" and encoded else ""
    shown = {k: v[:80] for k, v in headers.items()}
    sent = "" if files is None else f" multipart, files={[(n, len(c)) for c, n in files]}"
    return f"{method} {where[:300]}{body} headers={shown}{sent}"


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_input_gets_a_server_error(app, people, role):
    app.test_client_class = CSRFClient
    client = app.test_client()
    world = world_of(people)
    if role == "patient_a":
        # Consent signed and a draft begun: the intake's steps open, and their revision
        # is among the values drawn.
        world["ids"].append(str(make_intake(people["patient_a"], submit=False).revision))
    every = targets(app)
    failures: dict[tuple, str] = {}
    answers: Counter = Counter()

    # Hypothesis's cost per draw grows with the draws already made in one example: the
    # routes go in batches of BATCH, each batch its own ROUNDS rounds, so that adding routes
    # adds time in proportion and no more.
    @settings(max_examples=ROUNDS, deadline=None, derandomize=DERANDOMIZE, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one_round(data, batch):
        keep_signed_in(client, role, people)
        for target in batch:
            request = data.draw(requests(target, world))
            try:
                status = send(client, *request)
            except Exception as exc:  # a failure to report, with its request
                status = f"{type(exc).__name__}: {exc}"[:200]
            answers[(target.endpoint, target.method, status)] += 1
            if not isinstance(status, int) or status >= 500:
                key = (target.endpoint, target.method, str(status)[:60])
                failures.setdefault(key, f"{status} <- {_describe(*request)}")
            if target.endpoint in ENDS_SESSION:
                keep_signed_in(client, role, people)

    for start in range(0, len(every), BATCH):
        one_round(batch=every[start:start + BATCH])
    if os.environ.get("FUZZ_REPORT"):  # how each route answered (pytest -s to see it)
        for (endpoint, method, status), count in sorted(answers.items(), key=str):
            print(f"{role:12} {endpoint:32} {method:4} {status}: {count}")
    assert not failures, f"{role}: {len(failures)} server errors\n" + "\n".join(
        f"{endpoint} {method}: {text}" for (endpoint, method, _), text in sorted(
            failures.items()))


def test_the_rounds_reach_every_route_and_the_views_own_names(app):
    """What the fuzzing relies on: every rule is a target, and the names of a view's form
    are among those drawn for it."""
    every = targets(app)
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert {t.rule.rule for t in every} == rules
    assert {"valid_until", "reason"} <= set(names_for("portal.documents.views"))
    assert {"date_from", "date_to", "actor", "before"} <= set(names_for("portal.admin.views"))
    assert "nprs_average" in names_for("portal.intake.views")
