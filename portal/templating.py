"""What every template may use."""
from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from portal import clock, formats, i18n, security
from portal.clinic_settings import current_settings


def register(app: Flask) -> None:
    formats.install(app)

    @app.context_processor
    def portal_context():
        locale = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        in_request = has_request_context()
        signed_in = in_request and current_user.is_authenticated
        return {
            "current_locale": locale,
            "html_lang": i18n.html_lang(locale),
            "languages": app.config["LANGUAGES"],
            "clinic": current_settings(),
            "now": clock.now(),
            "home_url": security.home_for(current_user) if signed_in else None,
            "current_path": request.full_path.rstrip("?") if in_request else "/",
        }

    app.jinja_env.filters["tel_href"] = tel_href


def tel_href(phone: str | None) -> str:
    """A telephone number as a tel: link carries it: "+" and digits only (the separators
    people write are allowed by RFC 3966, but not every phone's dialer accepts them)."""
    return "".join(c for c in phone or "" if c.isdigit() or c == "+")
