"""Browser-only fixtures: every page opened through ``open_page`` (and the ``page`` fixture)
records the browser console, so a test can prove the strict CSP was never violated."""
from __future__ import annotations

import pytest
from flask_babel import force_locale, gettext

from tests.browser.helpers import console_problems, watch_console


@pytest.fixture
def open_page(new_context, artifacts):
    """Opens a page in a fresh browser context (a separate person: own cookies, own
    language, own viewport). Keyword arguments go to ``browser.new_context``."""
    contexts = []

    def _open(**context_args):
        context = new_context(**context_args)
        watch_console(context)
        contexts.append(context)
        return context.new_page()

    yield _open
    # Teardown safety net; the tests also check as they go.
    problems = [p for c in contexts for p in console_problems(c)]
    assert not problems, "browser console reported errors:\n" + "\n".join(problems)


@pytest.fixture
def page(open_page):
    """pytest-playwright's ``page``, with the console watched."""
    return open_page()


@pytest.fixture
def translate(app):
    """``translate("fr_CA")("Sign in")`` is what the server renders for that string in that
    language: the French text once it is translated, the English msgid until then. Locators
    built with it keep working while the French catalogue is being filled in."""
    def for_locale(locale: str):
        def t(msgid: str, **params) -> str:
            with app.test_request_context(), force_locale(locale):
                return gettext(msgid, **params)
        return t
    return for_locale
