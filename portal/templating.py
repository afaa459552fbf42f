"""What every template may use."""
from __future__ import annotations

import re

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


# Where an extension starts in a number as the admin settings accept it ("ext. 12", "x12",
# "poste 12").
_EXTENSION = re.compile(r"ext\.?|x|poste", re.IGNORECASE)


def tel_href(phone: str | None) -> str:
    """A telephone number as a tel: link carries it: "+" and digits only (the separators
    people write are allowed by RFC 3966, but not every phone's dialer accepts them), and
    an extension as ";ext=" (RFC 3966): "604-555-0123 ext. 12" -> "6045550123;ext=12"."""
    match = _EXTENSION.search(phone or "")
    number, extension = (phone or "", "") if match is None else \
        (match.string[:match.start()], match.string[match.end():])
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    ext = "".join(c for c in extension if c.isdigit())
    return digits + (f";ext={ext}" if digits and ext else "")
