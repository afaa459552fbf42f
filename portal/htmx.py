"""The only module that reads or writes HX-* headers.

It wraps htmx-flask so that a fix (for example its broken ``reswap`` constants, which
reject "beforebegin" and "afterbegin") touches this file only. Whether a request gets
a fragment or the whole page is decided here, never by a request parameter.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, redirect, render_template, request
from htmx_flask import Htmx
from werkzeug.wrappers import Response as BaseResponse

_SWAPS = {"innerHTML", "outerHTML", "beforebegin", "afterbegin", "beforeend",
          "afterend", "delete", "none"}


class _PortalHtmx(Htmx):
    def init_app(self, app: Flask):
        super().init_app(app)
        app.after_request(_vary_on_hx_request)


htmx = _PortalHtmx()


def _vary_on_hx_request(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


def is_htmx() -> bool:
    return bool(getattr(request, "htmx", False))


def current_url() -> str | None:
    """The browser's address when an htmx request was sent (HX-Current-URL)."""
    hx = getattr(request, "htmx", None)
    return hx.current_url if hx else None


def wants_fragment() -> bool:
    """A fragment for htmx requests that are neither boosted nor a history restore."""
    hx = getattr(request, "htmx", None)
    if not hx:
        return False
    return not hx.boosted and not hx.history_restore_request


def render(page: str, fragment: str | None = None, status: int = 200, **ctx: Any) -> Response:
    as_fragment = bool(fragment) and wants_fragment()
    ctx.setdefault("htmx_fragment", as_fragment)
    template = fragment if fragment and as_fragment else page
    response = Response(render_template(template, **ctx), status=status, mimetype="text/html")
    return response


def hx_redirect(url: str) -> BaseResponse:
    """Redirect a whole page: HX-Redirect for htmx, 303 See Other otherwise."""
    if is_htmx():
        response = Response("", status=200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Add an event to HX-Trigger, keeping the ones already there."""
    existing = response.headers.get("HX-Trigger")
    events: dict[str, Any] = {}
    if existing:
        try:
            events = json.loads(existing)
        except ValueError:
            events = {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def reswap(response: Response, how: str) -> Response:
    if how.split()[0] not in _SWAPS:
        raise ValueError(f"unknown swap style {how!r}")
    response.headers["HX-Reswap"] = how
    return response


def retarget(response: Response, selector: str) -> Response:
    response.headers["HX-Retarget"] = selector
    return response
