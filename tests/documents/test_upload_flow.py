"""The upload form (SPEC 3.1, 8.3): a plain form post without JavaScript, an htmx swap with
it, errors by the field with a summary (422), and a friendly answer to an oversize request."""
from __future__ import annotations

import io

import pytest

from portal.config import Config
from tests.documents import files
from tests.documents.conftest import HX, upload
from tests.markup import parse


def test_plain_form_post_redirects_with_a_message(patient_client):
    response = upload(patient_client, (files.pdf(), "letter.pdf"))
    assert response.status_code == 303 and response.location.endswith("/me/documents/")
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert "Your file was uploaded. We are checking it, then your clinic will review it." \
        in html
    assert "letter.pdf" in html and "Waiting for review" in html


def test_plain_form_post_carries_its_token_in_the_form(app, patient):
    from tests.conftest import Auth, CSRFClient
    app.test_client_class = CSRFClient
    client = app.test_client()
    Auth(client).login(patient)
    page = parse(client.get("/me/documents/").get_data(as_text=True))
    token = page.find_all("input", name="csrf_token")[0].attrs["value"]
    response = client.post("/me/documents/upload", csrf=False, content_type="multipart/form-data",
                           data={"csrf_token": token, "kind": "clearance",
                                 "files": [(io.BytesIO(files.pdf()), "a.pdf")]})
    assert response.status_code == 303


def test_htmx_upload_swaps_the_documents_region(patient_client):
    patient_client.get("/me/documents/")
    response = upload(patient_client, (files.pdf(), "letter.pdf"), (files.jpeg(), "p.jpg"),
                      headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="my-documents"')
    doc = parse(html)
    flash = doc.by_id("flash")
    assert flash.attrs.get("data-hx-swap-oob") == "true"
    assert "Your 2 files were uploaded" in flash.text
    assert "letter.pdf" in html and "p.jpg" in html


def test_htmx_upload_errors_come_back_in_the_form_with_422(patient_client):
    patient_client.get("/me/documents/")
    response = upload(patient_client, (files.HTML, "x.pdf"), headers=HX)
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    assert doc.by_id("my-documents") is not None
    assert doc.by_id("files").attrs.get("aria-invalid") == "true"
    summary = doc.find_all(role="alert")[0]
    assert "x.pdf is not a PDF" in summary.text
    assert "data-focus-on-load" in summary.attrs


def test_the_form_says_the_limits(patient_client):
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert "up to 10 MB each and 5 files at a time" in html
    form = parse(html).find_all("form", action="/me/documents/upload")[0]
    assert form.attrs["data-max-bytes"] == str(10 * 1024 * 1024)
    assert form.attrs["data-hx-encoding"] == "multipart/form-data"


def test_a_full_upload_always_fits_in_a_request():
    assert Config.MAX_CONTENT_LENGTH >= (Config.DOCUMENT_MAX_FILES * Config.DOCUMENT_MAX_BYTES
                                         + 512 * 1024)


@pytest.fixture
def tiny_requests(app_config):
    app_config["MAX_CONTENT_LENGTH"] = 30_000


def test_an_oversize_request_gets_a_friendly_page(tiny_requests, patient_client):
    patient_client.get("/me/documents/")
    response = upload(patient_client, (files.padded_pdf(40_000), "huge.pdf"))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "<html" in html and "File too large" in html and "up to 10 MB" in html


def test_an_oversize_htmx_request_lands_in_the_flash_region(tiny_requests, patient_client):
    patient_client.get("/me/documents/")
    response = upload(patient_client, (files.padded_pdf(40_000), "huge.pdf"), headers=HX)
    assert response.status_code == 413
    assert response.headers["HX-Retarget"] == "#flash"
    assert "File too large" in response.get_data(as_text=True)


def test_document_pages_live_with_the_strict_csp(patient_client, doctor_client, patient):
    from tests.factories import make_document
    make_document(patient)
    pages = [patient_client.get("/me/documents/"), doctor_client.get("/clinic/"),
             doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents")]
    for response in pages:
        assert response.status_code == 200
        doc = parse(response.get_data(as_text=True))
        assert all(not s.text.strip() and s.attrs.get("src") for s in doc.find_all("script"))
        assert not doc.find_all("style")
        assert not [e.tag for e in doc.elements if "style" in e.attrs]
        assert not [a for e in doc.elements for a in e.attrs if a.startswith("on")]
