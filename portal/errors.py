"""Error pages: a full page, or for htmx a message swapped into the flash region."""
from __future__ import annotations

import logging

from flask import Flask, Response, abort, current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from portal import htmx
from portal.extensions import db

log = logging.getLogger(__name__)


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Something was wrong with that request"),
              _("Please go back and try again.")),
        403: (_("Not allowed"), _("You do not have access to this.")),
        404: (_("Page not found"),
              _("We could not find that page. Check the address, or go back to your home page.")),
        405: (_("Not allowed"), _("That action is not available here.")),
        413: (_("File too large"),
              _("That upload is larger than the portal accepts. Each file may be up to "
                "%(mb)s MB, and %(n)d files at a time: please try again with fewer or "
                "smaller files.", mb=f"{current_app.config['DOCUMENT_MAX_BYTES'] / 1048576:g}",
                n=current_app.config["DOCUMENT_MAX_FILES"])),
        429: (_("Too many attempts"),
              _("Please wait a few minutes before trying again.")),
        500: (_("Something went wrong"),
              _("Sorry, the portal had a problem. Please try again in a moment.")),
    }


def render_error(status: int, title: str | None = None, message: str | None = None) -> Response:
    default_title, default_message = _messages().get(status, _messages()[500])
    response = htmx.render("errors/error.html", "errors/_error.html", status=status,
                           title=title or default_title, message=message or default_message)
    if htmx.wants_fragment():
        # The flash region shows it; the target the request aimed at stays untouched.
        htmx.retarget(response, "#flash")
        htmx.reswap(response, "innerHTML")
    return response


def _csrf_error(error: CSRFError) -> Response:
    return render_error(400, _("This form has expired"),
                        _("For your security, forms expire. "
                          "Please reload the page and submit again."))


def _http_error(error: HTTPException) -> BaseResponse:
    if error.code is None or error.code < 400:
        return error.get_response()
    return render_error(error.code)


def _server_error(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    db.session.rollback()
    return render_error(500)


def refuse_nul_bytes() -> None:
    """A NUL byte anywhere in the address or a form is hostile or broken input: no field of
    the portal holds one, and PostgreSQL can neither store nor compare it. Refused (404 in
    the address, 400 in its values) before any view reads it, so nothing changes.

    So is a multipart part whose name holds a line break: the parser cuts its header there
    and files the value under no name at all (None), which the CSRF check cannot read."""
    if "\x00" in request.path:
        abort(404)  # no address of the portal holds one
    values = [*request.args.keys(), *request.args.values()]
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values(), *request.files.keys()]
    if any(not isinstance(value, str) or "\x00" in value for value in values):
        abort(400)


def register_errorhandlers(app: Flask) -> None:
    # First of all, before Flask-WTF's CSRF check reads the form.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_bytes)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
