"""Speed as served by the app alone (SPEC 8.5): compressed responses and static files under
content-hashed names that browsers keep for a year.

* Flask-Static-Digest: ``flask build-static`` (run by ``make assets``, and by the test
  session before any app is made: ``build_static``) copies every file of ``static/`` to a
  name carrying the MD5 of its content and writes ``static/cache_manifest.json``; the copies
  of our own styles and scripts are then minified (rcssmin, rjsmin: comments and spaces
  out, about 2 KB less on every first load); templates ask
  ``static_url_for`` for the hashed name. A hashed file never changes, so it is sent with
  ``Cache-Control: public, max-age=31536000, immutable``; any other static file is
  revalidated (``no-cache``).
* Flask-Compress: brotli or gzip, as the browser prefers, for pages, styles, scripts and JSON.
  Documents and CSV downloads are not in its list and stream as they are.
* A hashed static file is compressed once per process, at brotli's (or gzip's) highest level,
  and kept in memory (all of them together are a few dozen kilobytes): the first load of a
  page stays under 40 KB with htmx (SPEC 8.5) at no cost per request.

Compression and secrets: a page that reflects what a request carried next to a secret can
leak that secret through its compressed size (the BREACH attack) when another site makes the
victim's browser send many such requests. Browsers say who started a request in
``Sec-Fetch-Site``; only requests the portal itself started, or the person typed or
bookmarked, are compressed. A cross-site one (or one from a browser that does not say) gets
the page uncompressed, at no cost to anyone using the portal.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import click
import rcssmin  # type: ignore[import-untyped]
import rjsmin  # type: ignore[import-untyped]
from flask import Flask, Response, request
from flask_compress import Compress
from flask_static_digest import FlaskStaticDigest, digester

ONE_YEAR = 365 * 24 * 3600
COMPRESSIBLE = ["text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "application/fhir+json", "image/svg+xml",
                "text/plain"]
_SAFE_ORIGINS = {"same-origin", "none"}

compress = Compress()
static_digest = FlaskStaticDigest()


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSIBLE)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "deflate"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    # The hook is called below, only for requests that may be compressed.
    app.config["COMPRESS_REGISTER"] = False
    # Only hashed copies are made; compressing happens per response.
    app.config.setdefault("FLASK_STATIC_DIGEST_COMPRESSION", [])
    compress.init_app(app)
    static_digest.init_app(app)
    hashed = set(static_digest.manifests.get("static", {}).values())

    @app.after_request
    def compress_when_safe(response: Response) -> Response:
        filename = (request.view_args or {}).get("filename", "")
        if request.endpoint == "static" and filename in hashed:
            return _packed_static(response, filename)
        if request.endpoint == "static" \
                or request.headers.get("Sec-Fetch-Site") in _SAFE_ORIGINS:
            return compress.after_request(response)
        response.vary.add("Accept-Encoding")
        return response

    @app.after_request
    def cache_static(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            response.headers["Cache-Control"] = (
                f"public, max-age={ONE_YEAR}, immutable" if filename in hashed else "no-cache")
        return response



_PACKED: dict[tuple[str, str], bytes] = {}


def _packed_static(response: Response, filename: str) -> Response:
    """A hashed static file (it never changes) compressed at the highest level once per
    process; a 304, a range or a browser that takes neither brotli nor gzip get Flask's own
    answer."""
    response.vary.add("Accept-Encoding")
    accepted = request.accept_encodings
    algorithm = "br" if accepted["br"] else "gzip" if accepted["gzip"] else None
    if (algorithm is None or response.status_code != 200
            or response.mimetype not in COMPRESSIBLE or "Content-Encoding" in response.headers):
        return response
    body = _PACKED.get((filename, algorithm))
    if body is None:
        response.direct_passthrough = False
        data = response.get_data()
        body = brotli.compress(data, quality=11) if algorithm == "br" \
            else gzip.compress(data, compresslevel=9, mtime=0)
        _PACKED[(filename, algorithm)] = body
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = algorithm
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}:{algorithm}", weak=bool(weak))
    return response


def build_static(folder: str | Path) -> dict[str, str]:
    """The hashed copies of ``folder`` and their manifest; our own CSS and JS minified (the
    vendor folder is minified already). Returns the manifest."""
    folder = str(folder)
    with contextlib.redirect_stdout(io.StringIO()):
        digester.compile(folder, folder, [], False, False)
    manifest: dict[str, str] = json.loads((Path(folder) / "cache_manifest.json").read_text())
    for source, hashed in manifest.items():
        minify = rcssmin.cssmin if source.endswith(".css") else \
            rjsmin.jsmin if source.endswith(".js") and not source.startswith("vendor/") else None
        if minify is not None:
            path = Path(folder) / hashed
            path.write_text(minify((Path(folder) / source).read_text(encoding="utf-8")),
                            encoding="utf-8")
    return manifest


@click.command("build-static")
def build_static_command() -> None:
    """Copy the static files under content-hashed names (minified) for the pages to link."""
    from flask import current_app
    manifest = build_static(current_app.static_folder or "static")
    click.echo(f"{len(manifest)} static files under hashed names")
