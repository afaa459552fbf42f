"""Absolute links to the portal's pages, for e-mails and exports: ``BASE_URL`` (the public
address, configuration) and the page's path. Works in a request and outside one (the
worker, a command), where Flask has no host to build from."""
from __future__ import annotations

from flask import current_app, has_request_context, url_for


def absolute_url(endpoint: str, **values) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values)
    with current_app.test_request_context():
        return base + url_for(endpoint, **values)
