"""Speed as served by the app alone (SPEC 8.5), through a real gunicorn: pages compressed
(brotli or gzip, as the browser prefers) for the requests the portal itself started, and
not for cross-site ones (BREACH, portal/assets.py); static files under content-hashed names
kept for a year; downloads still whole; and the first load of each main page, with every
style, script and image it links, at most 40 KB compressed.

Sizes, not times: the bytes a phone downloads are what this checks.
"""
from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import brotli  # type: ignore[import-untyped]
import pytest

from portal import storage
from tests import served
from tests.factories import make_document, make_patient, make_practitioner
from tests.served import app_config  # noqa: F401  (the app shares the server's key)
from tests.treatment.helpers import history, make_treatable, record

pytestmark = served.needs_gunicorn

FIRST_LOAD_LIMIT = 40 * 1024
BOTH = {"Accept-Encoding": "br, gzip", "Sec-Fetch-Site": "same-origin"}
# A CSRF token (signed, time-stamped): different on every page.
_SIGNED = re.compile(rb"[\w-]{30,}\.[\w-]{4,}\.[\w-]{20,}")
GZIP_ONLY = {"Accept-Encoding": "gzip", "Sec-Fetch-Site": "same-origin"}


def _vary(answer: served.Answer) -> set[str]:
    return {v.strip().lower() for line in answer.headers.get_all("Vary") or []
            for v in line.split(",")}


def _decoded(answer: served.Answer) -> bytes:
    encoding = answer.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(answer.body)
    if encoding == "gzip":
        return gzip.decompress(answer.body)
    assert encoding is None, encoding
    return answer.body


class _Linked(HTMLParser):
    """The style sheets, scripts and images a page makes the browser fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "link" and found.get("rel") in ("stylesheet", "icon"):
            self.urls.append(found["href"])
        elif tag in ("script", "img") and found.get("src"):
            self.urls.append(found["src"])


def _linked(html: str) -> list[str]:
    parser = _Linked()
    parser.feed(html)
    return [u for u in parser.urls if not u.startswith("data:")]


def _assert_compression(client: served.HttpClient, path: str) -> None:
    plain = client.get(path)
    assert plain.status == 200, plain.text[:500]
    assert plain.headers.get("Content-Encoding") is None
    assert "accept-encoding" in _vary(plain)
    br = client.get(path, headers=BOTH)
    assert br.headers.get("Content-Encoding") == "br", (path, br.headers.items())
    assert "accept-encoding" in _vary(br)
    gz = client.get(path, headers=GZIP_ONLY)
    assert gz.headers.get("Content-Encoding") == "gzip", (path, gz.headers.items())
    # Pages carry a fresh CSRF token each time: compare them without it.
    for answer in (br, gz):
        page = _decoded(answer)
        assert len(answer.body) < len(page) / 2
        assert _without_token(page) == _without_token(plain.body)
    # Started by another site, or by a browser that does not say: sent as it is.
    for who in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {}):
        answer = client.get(path, headers={"Accept-Encoding": "br, gzip", **who})
        assert answer.headers.get("Content-Encoding") is None, (who, answer.headers.items())
        assert "accept-encoding" in _vary(answer)
        assert b"<html" in answer.body


def _without_token(page: bytes) -> bytes:
    return _SIGNED.sub(b"token", page)


def test_pages_are_compressed_only_for_the_portals_own_requests(app, tmp_path):
    patient = make_patient()
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        _assert_compression(client, "/auth/login")
        client.sign_in(patient)
        _assert_compression(client, "/me/")


def test_static_files_cached_for_a_year_under_hashed_names(app, tmp_path):
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        # The names the server's pages link (its manifest, read when it started).
        linked = _linked(client.get("/auth/login").text)
        css_path = next(u for u in linked if "/css/portal-" in u)
        icon_path = next(u for u in linked if "/favicon-" in u)
        hashed = client.get(css_path, headers={"Accept-Encoding": "br"})
        gzipped = client.get(css_path, headers={"Accept-Encoding": "gzip"})
        again = client.get(css_path, headers={"Accept-Encoding": "br"})
        plain = client.get("/static/css/portal.css")
        favicon = client.get("/favicon.ico")
        icon = client.get(urlsplit(favicon.location).path)
    assert hashed.status == 200
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Static files are the same for everyone: compressed whoever asks.
    assert hashed.headers["Content-Encoding"] == "br"
    content = (served.ROOT / css_path.lstrip("/")).read_bytes()
    assert _decoded(hashed) == content and len(hashed.body) < len(content) / 4
    assert gzipped.headers["Content-Encoding"] == "gzip" and _decoded(gzipped) == content
    assert again.body == hashed.body and "accept-encoding" in _vary(again)
    assert plain.status == 200 and plain.headers.get("Content-Encoding") is None
    assert plain.headers["Cache-Control"] == "no-cache"
    assert favicon.status == 302  # not permanent: the name changes with the icon
    assert urlsplit(favicon.location).path == icon_path
    assert icon.status == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    assert icon.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_downloads_still_stream_whole(app, tmp_path):
    """Compression does not touch downloads: the outcomes CSV and a document's file come
    whole, as they are, even to a request that would get a compressed page."""
    from tests.documents import files

    patient = make_patient()
    doc = make_document(patient, content=files.padded_pdf(storage.CHUNK_SIZE * 2 + 99),
                        name="letter.pdf")
    stored = b"".join(storage.get_storage().read(doc.blob_key))
    doctor = make_practitioner()
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        client.sign_in(doctor)
        csv_answer = client.get("/clinic/outcomes.csv", headers=BOTH)
        file_answer = client.get(f"/documents/{doc.public_id}/download", headers=BOTH)
    assert csv_answer.status == 200, csv_answer.text[:500]
    assert csv_answer.headers.get("Content-Encoding") is None
    assert csv_answer.body.startswith("\ufeff".encode())
    assert file_answer.status == 200, file_answer.text[:500]
    assert file_answer.headers.get("Content-Encoding") is None
    assert file_answer.body == stored


def _first_load(client: served.HttpClient, path: str, seen: dict[str, int]) -> int:
    """The compressed bytes of ``path`` and of every file it links (each file fetched once
    per test, as a browser's cache would, but counted for every page: a first load)."""
    page = client.get(path, headers=BOTH)
    assert page.status == 200, (path, page.status, page.text[:300])
    assert page.headers.get("Content-Encoding") == "br", path
    total = len(page.body)
    for url in _linked(_decoded(page).decode()):
        target = urlsplit(url).path
        if target not in seen:
            answer = client.get(target, headers=BOTH)
            assert answer.status == 200, (path, target)
            seen[target] = len(answer.body)
        total += seen[target]
    return total


@pytest.fixture
def main_pages(app):
    """Who sees which page: a new patient (intake), one in treatment (home, rating,
    progress) and a practitioner (worklist, chart, outcomes)."""
    doctor = make_practitioner(name="Dr. Jordan Lee")
    newcomer = make_patient(name="Nora Newcomer")
    treated = make_treatable(name="Margaret Côté")
    history(treated, [6, 5, 4, 4, 3], practitioner=doctor)
    session = record(treated, doctor)
    assert treated.patient is not None
    chart = f"/clinic/patients/{treated.patient.public_id}/"
    return {
        None: ["/auth/login"],
        newcomer: ["/me/intake/2"],
        treated: ["/me/", f"/me/sessions/{session.public_id}/rating", "/me/progress"],
        doctor: ["/clinic/", chart, "/clinic/outcomes"],
    }


def test_first_load_of_each_main_page_is_at_most_40_kb(app, tmp_path, main_pages):
    sizes: dict[str, int] = {}
    with served.gunicorn(app, tmp_path) as base:
        for user, paths in main_pages.items():
            client = served.HttpClient(base)
            if user is not None:
                client.sign_in(user)
            seen: dict[str, int] = {}
            for path in paths:
                sizes[path] = _first_load(client, path, seen)
    too_big = {p: s for p, s in sizes.items() if s > FIRST_LOAD_LIMIT}
    assert not too_big, (too_big, sizes)
    assert len(sizes) == 8
