"""What every browser test does on every page: axe-core, a screenshot, the console check;
plus the few steps people repeat (signing in, reading a mailed link)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from portal import clock
from tests.conftest import ARTIFACTS

_axe = Axe()


# --- console ----------------------------------------------------------------------------

def watch_console(context: BrowserContext) -> None:
    """Records, for every page of the context, console errors and uncaught exceptions."""
    context.portal_console = []

    def on_console(msg):
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            context.portal_console.append(
                f"console error on {msg.page.url if msg.page else '?'} ({where}): {msg.text}")

    context.on("console", on_console)
    context.on("weberror", lambda err: context.portal_console.append(f"uncaught: {err.error}"))


def console_problems(context: BrowserContext) -> list[str]:
    """CSP violations and script exceptions. Other console errors are expected: Chromium
    logs every 4xx answer, and a failed form post answers 422 on purpose."""
    return [m for m in getattr(context, "portal_console", [])
            if "Content Security Policy" in m or m.startswith("uncaught:")]


def assert_console_clean(page: Page) -> None:
    problems = console_problems(page.context)
    assert not problems, "\n".join(problems)


# --- every page -------------------------------------------------------------------------

def check_a11y(page: Page, name: str, artifacts: Path = ARTIFACTS) -> None:
    """Zero axe-core violations (SPEC 8.2), a full-page screenshot in test-artifacts/ to look
    at, and no CSP violation or script error so far."""
    page.wait_for_load_state("load")
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    results = _axe.run(page)
    assert results.violations_count == 0, \
        f"axe on {name} ({page.url}):\n{results.generate_report()}"
    assert_console_clean(page)


def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0 when it fits). Compared with
    ``clientWidth``: Chromium widens ``innerWidth`` to fit wide content, hiding the overflow."""
    return page.evaluate("() => Math.max(0, document.documentElement.scrollWidth"
                         " - document.documentElement.clientWidth)")


# Controls people tap, measured where they respond: buttons, fields, disclosure summaries,
# links that stand alone (a link inside a sentence is exempt, WCAG 2.5.8 "inline"), and
# radio and checkbox choices measured by their label (the box people see and tap). The one
# exception: a 0-10 scale is one number line of eleven boxes, which cannot all be 44 px wide
# on a 320 px phone; each number is at least 44 px tall and 24 px wide (WCAG 2.5.8).
_SMALL_TARGETS_JS = """
() => {
  const standalone = a => a.classList.contains('button') || a.closest('nav')
    || (a.parentElement && a.parentElement.innerText.trim() === a.innerText.trim());
  const shown = el => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden' && !el.closest('.visually-hidden');
  const controls = Array.from(document.querySelectorAll(
      'button, a[href], select, textarea, summary, [role=tab], '
      + 'input:not([type=hidden]):not([type=checkbox]):not([type=radio])'))
    .filter(el => el.tagName !== 'A' || standalone(el))
    .filter(el => !el.classList.contains('skip-link'))
    .filter(el => !el.closest('svg'))
    .filter(shown);
  const choices = Array.from(document.querySelectorAll('input[type=checkbox], input[type=radio]'))
    .map(input => input.closest('label')
         || (input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`))
         || input)
    .filter(el => el.closest('.visually-hidden') === null || el.tagName === 'LABEL')
    .filter(el => el.getClientRects().length > 0);
  return Array.from(new Set([...controls, ...choices]))
    .map(el => ({el, r: el.getBoundingClientRect()}))
    .filter(({el, r}) => r.height < 43.5
            || r.width < (el.closest('.choices--scale') ? 23.5 : 43.5))
    .map(({el, r}) => `${el.tagName.toLowerCase()} "${(el.innerText || el.name || el.id || '')
                         .trim().slice(0, 40)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
}
"""


def small_touch_targets(page: Page) -> list[str]:
    return page.evaluate(_SMALL_TARGETS_JS)


# The smallest font size of visible text, with a few examples of where it is under the
# limit. A chart's text is measured as drawn (its SVG scales with the screen) against the
# charts' own limit; other SVG text (the body map's numbers) is not measured here.
_SMALL_TEXT_JS = """
([limit, chartLimit]) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const sizes = new Map();
  let smallest = Infinity;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest('script, style, .visually-hidden'))
      continue;
    const chart = el.closest('svg.chart__svg');
    if (el.closest('svg') && !chart) continue;
    if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden')
      continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    if (chart) {
      const box = chart.viewBox.baseVal;
      size = Math.round(size * chart.getBoundingClientRect().width / (box && box.width || 1)
                        * 10) / 10;
    }
    smallest = Math.min(smallest, size);
    if (size < (chart ? chartLimit : limit)) {
      const where = `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className)
                       .trim().split(/\\s+/).join('.') : ''} ${size}px "${node.textContent
                       .trim().slice(0, 30)}"`;
      sizes.set(where, size);
    }
  }
  return {smallest, small: Array.from(sizes.keys()).slice(0, 6)};
}
"""


def small_text(page: Page, limit: float = 16, chart_limit: float = 14) -> dict:
    """``{"smallest": px, "small": [where text is under its limit, ...]}``."""
    return page.evaluate(_SMALL_TEXT_JS, [limit, chart_limit])


def body_font_px(page: Page) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")


# --- mail -------------------------------------------------------------------------------

def mailed_link(smtp, contains: str, after: int, timeout: float = 10.0) -> str:
    """The link from the first message that arrived after the first ``after`` messages.
    The portal sends right after the response, so the browser may be a moment ahead."""
    deadline = time.monotonic() + timeout
    while len(smtp.messages) <= after:
        assert time.monotonic() < deadline, f"no new mail (expected a link with {contains!r})"
        time.sleep(0.05)
    return smtp.last_link(contains)


# --- people -----------------------------------------------------------------------------

def identity(msgid: str, **params) -> str:
    return msgid % params if params else msgid


def totp_now(secret: str) -> str:
    """The code an authenticator app would show at the portal's time."""
    return pyotp.TOTP(secret).at(clock.now())


def next_totp(secret: str) -> str:
    """A code from a step not used yet: codes are single-use per 30-second step, so move the
    portal's clock on instead of waiting."""
    clock.advance(seconds=31)
    return totp_now(secret)


def sign_in(page: Page, base: str, email: str, password: str, t=identity,
            name: str | None = None) -> None:
    """Fills the sign-in form; for staff it stops on the second-step page."""
    page.goto(f"{base}/auth/login")
    expect(page.get_by_role("heading", level=1, name=t("Sign in"))).to_be_visible()
    if name:
        check_a11y(page, name)
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password")).fill(password)
    page.get_by_role("button", name=t("Sign in"), exact=True).click()


def enter_code(page: Page, code: str, t=identity, name: str | None = None) -> None:
    expect(page).to_have_url(re.compile(r"/auth/mfa$"))
    if name:
        check_a11y(page, name)
    page.get_by_label(t("Code")).fill(code)
    page.get_by_role("button", name=t("Continue"), exact=True).click()


def open_menu(page: Page) -> None:
    """Opens the header's menu when it is a closed button (on a phone); on wide screens its
    links and buttons show inline and there is nothing to open."""
    button = page.locator("[data-site-menu] > summary")
    if button.is_visible() and page.locator("[data-site-menu]:not([open])").count():
        button.click()


def sign_out(page: Page, base: str, t=identity, name: str | None = None) -> None:
    open_menu(page)
    page.get_by_role("button", name=t("Sign out"), exact=True).click()
    expect(page).to_have_url(f"{base}/auth/login")
    expect(page.locator("#flash")).to_contain_text(t("You have signed out."))
    if name:
        check_a11y(page, name)
