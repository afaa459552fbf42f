"""Language choice (SPEC 8.1): the user's preference, else the visitor's choice, else the
browser's Accept-Language, else English."""
from __future__ import annotations

from flask import current_app, request, session
from flask_babel import get_locale
from flask_login import current_user


def current_locale() -> str:
    """The language of this request's pages, as a code ("en", "fr_CA")."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def supported() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def normalise(code: str | None) -> str | None:
    """Map 'fr', 'fr-CA', 'fr_FR' to our 'fr_CA'; 'en-GB' to 'en'."""
    if not code:
        return None
    code = code.replace("-", "_")
    for lang in supported():
        if code.lower() == lang.lower():
            return lang
    base = code.split("_")[0].lower()
    for lang in supported():
        if lang.split("_")[0].lower() == base:
            return lang
    return None


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.locale:
        chosen = normalise(current_user.locale)
        if chosen:
            return chosen
    chosen = normalise(session.get("lang"))
    if chosen:
        return chosen
    for code, _quality in request.accept_languages:
        chosen = normalise(code)
        if chosen:
            return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang(locale: str) -> str:
    return locale.replace("_", "-")
