"""HTML CodeSniffer (the ``html_codesniffer`` npm package), WCAG 2 AA, finds no error on any
full page of the portal at 390 px, in English and French (SPEC 8.2, issue 15): the pages of
tests/pages.py, opened in a real browser. Notices and warnings (things a person must judge)
are allowed.

The sniffer is served to the browser from the page's own origin by the test (a route of the
browser context), so the portal's strict Content-Security-Policy (scripts from 'self' only)
stays as it is. Each person signs in once; the language changes under them."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.helpers import console_problems, totp_now, watch_console
from tests.factories import PASSWORD
from tests.pages import ACCEPT_LANGUAGE, LANGUAGES, Person, make_clinic, pages, use_language

pytestmark = pytest.mark.browser

HTMLCS = (Path(__file__).resolve().parents[2]
          / "node_modules" / "html_codesniffer" / "build" / "HTMLCS.js")
SCRIPT = "/__test-htmlcs.js"  # answered by the browser context, never by the portal
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1,
         "is_mobile": True, "has_touch": True}

# The errors of the WCAG2AA standard, with the element each is about.
_RUN = """
() => new Promise(resolve => {
  HTMLCS.process('WCAG2AA', document, () => {
    resolve(HTMLCS.getMessages().filter(m => m.type === HTMLCS.ERROR).map(m => {
      const el = m.element;
      const html = el && el.outerHTML ? el.outerHTML : String(el && el.nodeName);
      return `${m.code}\\n      ${m.msg}\\n      ${html.replace(/\\s+/g, ' ').slice(0, 240)}`;
    }));
  });
})
"""


def _serve_sniffer(context: BrowserContext, base: str) -> None:
    body = HTMLCS.read_bytes()
    context.route(f"{base}{SCRIPT}", lambda route: route.fulfill(
        status=200, body=body, content_type="application/javascript"))


def _sign_in(page: Page, base: str, person: Person) -> None:
    """Signs ``person`` in as far as their stage goes (by field names: any language)."""
    if person.user is None:
        return
    page.goto(f"{base}/auth/login")
    page.locator("input[name=email]").fill(person.user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    if person.stage == "signed-in" and person.totp_secret:
        page.locator("input[name=code]").fill(totp_now(person.totp_secret))
        page.locator("form:has(input[name=code]) button[type=submit]").click()
        page.wait_for_url(lambda url: "/auth/mfa" not in url)


def sniff(page: Page) -> list[str]:
    page.add_script_tag(url=SCRIPT)
    return page.evaluate(_RUN)


def test_htmlcs_finds_no_error_on_any_page(app, live_server, new_context):
    if not HTMLCS.exists():
        pytest.skip("HTML CodeSniffer is not installed (npm ci installs html_codesniffer)")
    base = live_server.url
    clinic = make_clinic(app)
    everyone = pages(clinic)
    tabs: dict[str, Page] = {}
    for role, person in clinic.people.items():
        context = new_context(**PHONE, locale="en-CA")
        watch_console(context)
        _serve_sniffer(context, base)
        tabs[role] = context.new_page()
        _sign_in(tabs[role], base, person)

    found: list[str] = []
    opened = 0
    for language in LANGUAGES:
        use_language(language)
        for role, role_pages in everyone.items():
            tab = tabs[role]
            tab.context.set_extra_http_headers({"Accept-Language": ACCEPT_LANGUAGE[language]})
            for entry in role_pages:
                if entry.data is not None:
                    continue  # a form sent back with errors: the Nu HTML Checker covers it
                response = tab.goto(f"{base}{entry.path}")
                assert response is not None and response.status == entry.status, \
                    f"{language} {entry.name}: {response.status if response else None}"
                opened += 1
                found += [f"{language} {entry.name} ({entry.path}): {error}"
                          for error in sniff(tab)]
    problems = [p for tab in tabs.values() for p in console_problems(tab.context)]
    assert not problems, "browser console reported errors:\n" + "\n".join(problems)
    assert opened > 80
    assert not found, f"{len(found)} WCAG2AA errors:\n" + "\n".join(found)
