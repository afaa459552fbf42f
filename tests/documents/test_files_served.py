"""Downloads and previews (SPEC 3.2): only through the authorization rule, with headers that
leave a file no room to act, never from a static path, and every one audited."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import Auth, CSRFClient
from tests.documents import files
from tests.documents.conftest import HX
from tests.factories import make_document, make_patient


def audit_actions(doc) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent.action)
                                   .where(AuditEvent.subject == doc.public_id)
                                   .order_by(AuditEvent.id)))


def assert_file_headers(response, mimetype: str) -> None:
    headers = response.headers
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in headers["Cache-Control"]
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "script-src" not in csp and "unsafe" not in csp


@pytest.fixture
def doc(patient):
    return make_document(patient, content=files.pdf("The clearance"), name="Dr Côté letter.pdf")


def test_download_headers_and_content(patient_client, doc):
    response = patient_client.get(f"/documents/{doc.public_id}/download")
    assert_file_headers(response, "application/pdf")
    assert response.get_data() == files.pdf("The clearance")
    assert response.content_length == doc.size
    # A non-ASCII name: a plain fallback and the UTF-8 name (RFC 6266).
    disposition = response.headers["Content-Disposition"]
    assert 'filename="Dr Cote letter.pdf"' in disposition
    assert "filename*=UTF-8''Dr%20C%C3%B4t%C3%A9%20letter.pdf" in disposition


def test_preview_headers_and_content(doctor_client, doc):
    response = doctor_client.get(f"/documents/{doc.public_id}/preview")
    assert_file_headers(response, "image/jpeg")
    image = Image.open(io.BytesIO(response.get_data()))
    assert image.format == "JPEG" and max(image.size) <= 1600


def test_image_preview_is_scaled(patient, doctor_client):
    photo = make_document(patient, content=files.jpeg((3000, 4000)), name="big.jpg")
    response = doctor_client.get(f"/documents/{photo.public_id}/preview")
    assert max(Image.open(io.BytesIO(response.get_data())).size) <= 1600


def test_preview_sized_for_its_slot(patient, doctor_client):
    """The preview fills a slot at most 22rem (352 px) wide: no more than twice that (a
    high-density screen), and the <img> says its size so the list does not jump."""
    from portal.documents import images
    from tests.markup import parse

    photo = make_document(patient, content=files.jpeg((3000, 4000)), name="big.jpg")
    letter = make_document(patient, content=files.pdf("The clearance"), name="letter.pdf")
    for doc in (photo, letter):
        response = doctor_client.get(f"/documents/{doc.public_id}/preview")
        width, height = Image.open(io.BytesIO(response.get_data())).size
        assert width <= 2 * 352 and height <= images.PREVIEW_BOX[1], (doc, width, height)
        assert width >= 2 * 352 - 2 or height >= images.PREVIEW_BOX[1] - 2, (width, height)
    page = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents")
    previews = [i for i in parse(page.get_data(as_text=True)).find_all("img")
                if "doc__preview" in i.attrs.get("class", "")]
    assert len(previews) == 2
    for img in previews:
        assert (int(img.attrs["width"]), int(img.attrs["height"])) == images.PREVIEW_BOX


def test_every_download_and_preview_is_audited(patient_client, doctor_client, doctor, patient,
                                               doc):
    before = audit_actions(doc)
    assert before == ["document.uploaded", "document.checked"]
    patient_client.get(f"/documents/{doc.public_id}/download")
    doctor_client.get(f"/documents/{doc.public_id}/preview")
    doctor_client.get(f"/documents/{doc.public_id}/download")
    assert audit_actions(doc) == [*before, "document.downloaded", "document.previewed",
                                  "document.downloaded"]
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.subject == doc.public_id)
                                     .order_by(AuditEvent.id)))[2:]
    assert [e.actor_id for e in events] == [patient.id, doctor.id, doctor.id]
    assert all(e.patient_id == patient.patient.id for e in events)
    for event in events:  # no file name (it may say something) in the log
        assert "Côté" not in (event.detail or "") and json.loads(event.detail) == {
            "kind": "clearance"}


def test_staff_looking_at_the_documents_is_audited(doctor_client, patient, doc):
    doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents")
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.patient_id == patient.patient.id).order_by(AuditEvent.id.desc())
        .limit(1)) == "documents.viewed"


def test_another_patients_document_is_a_404(app, doc):
    app.test_client_class = CSRFClient
    other = app.test_client()
    Auth(other).login(make_patient(name="Someone Else"))
    for path in (f"/documents/{doc.public_id}/download", f"/documents/{doc.public_id}/preview"):
        response = other.get(path)
        assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    other.get("/me/documents/")
    response = other.post(f"/me/documents/{doc.public_id}/withdraw")
    assert response.status_code == 404
    # The same answer as for a document that does not exist.
    assert other.get("/documents/AAAAAAAAAAAAAAAA/download").status_code == 404
    assert audit_actions(doc) == ["document.uploaded", "document.checked"]  # nothing read
    assert doc.public_id not in other.get("/me/documents/").get_data(as_text=True)


def test_visitors_are_sent_to_sign_in(client, doc):
    response = client.get(f"/documents/{doc.public_id}/download")
    assert response.status_code in (302, 303) and "/auth/login" in response.location


def test_documents_are_not_under_the_static_path(app, doc, document_dir):
    rules = [r.rule for r in app.url_map.iter_rules()]
    assert not any(r.startswith("/static") and "document" in r for r in rules)
    assert app.static_folder and document_dir.parts[-1] not in app.static_folder


def test_urls_carry_opaque_ids_only(patient_client, doc):
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert f"/documents/{doc.public_id}/download" in html
    assert f"/documents/{doc.id}/" not in html and doc.blob_key not in html


def test_download_of_a_missing_blob_fails_before_the_response_starts(doctor_client, doc):
    from portal import storage
    storage.get_storage().delete(doc.blob_key)
    db.session.commit()
    response = doctor_client.get(f"/documents/{doc.public_id}/download")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)


def test_htmx_request_for_someone_elses_file_lands_in_the_flash_region(app, doc):
    app.test_client_class = CSRFClient
    other = app.test_client()
    Auth(other).login(make_patient())
    response = other.get(f"/documents/{doc.public_id}/preview", headers=HX)
    assert response.status_code == 404 and response.headers["HX-Retarget"] == "#flash"
