"""What an upload is, decided by its content (SPEC 3.1): accepted types whatever their name
and the browser's claim; refused disguises and hostile files; names that are only names;
image metadata gone; limits; duplicates.

What the first bytes and the size tell is refused by the upload request itself, by the
field (422); what takes decoding is refused by the worker's check after it (the
``upload`` helper runs it), and the patient reads why on the documents page."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from portal.documents import content
from portal.extensions import db
from portal.models import Document
from tests.documents import files
from tests.documents.conftest import stored_keys, upload
from tests.markup import parse


def documents() -> list[Document]:
    db.session.expire_all()
    return list(db.session.scalars(select(Document).order_by(Document.id)))


def field_errors(response) -> str:
    doc = parse(response.get_data(as_text=True))
    error = doc.by_id("files-error")
    assert error is not None, "no error by the files field"
    control = doc.by_id("files")
    assert control.attrs.get("aria-invalid") == "true"
    assert "files-error" in control.attrs.get("aria-describedby", "")
    assert doc.find_all(role="alert"), "no error summary"
    return error.text


def refused_by_the_check(client, response, message: str) -> None:
    """The request took the file; the check refused it: the patient's list says why, and
    nothing of the file is kept but its name."""
    assert response.status_code == 303, response.get_data(as_text=True)
    doc, = documents()
    assert doc.status == "refused"
    assert (doc.blob_key, doc.preview_key, doc.original_key, doc.sha256) == (None,) * 4
    assert stored_keys() == set()
    line = parse(client.get("/me/documents/").get_data(as_text=True)).by_id(
        f"doc-{doc.public_id}")
    assert "Refused" in line.text and message in line.text


def download(client, doc: Document) -> bytes:
    response = client.get(f"/documents/{doc.public_id}/download")
    assert response.status_code == 200
    return response.get_data()


# --- accepted: by content, whatever the name or the browser says ----------------------

@pytest.mark.parametrize("make,name,claim,stored,original", [
    (files.pdf, "letter.txt", "text/plain", "application/pdf", "application/pdf"),
    (files.jpeg, "photo.png", "image/png", "image/jpeg", "image/jpeg"),
    (files.png, "scan.jpg", "image/jpeg", "image/png", "image/png"),
    (files.heic, "IMG_0001.jpg", "image/jpeg", "image/jpeg", "image/heic"),
    (files.pdf, "no-extension", "application/octet-stream", "application/pdf",
     "application/pdf"),
])
def test_types_are_decided_by_content(patient_client, make, name, claim, stored, original):
    data = make()
    response = upload(patient_client, (data, name, claim))
    assert response.status_code == 303, response.get_data(as_text=True)
    doc, = documents()
    assert (doc.content_type, doc.original_type) == (stored, original)
    assert doc.original_name == name
    body = download(patient_client, doc)
    if stored == "application/pdf":
        assert body == data  # PDFs are kept as they came
    else:
        assert Image.open(io.BytesIO(body)).format == {"image/jpeg": "JPEG",
                                                       "image/png": "PNG"}[stored]


def test_heic_photo_is_converted_and_offered_as_jpeg(patient_client):
    response = upload(patient_client, (files.heic((320, 240)), "IMG_4412.HEIC", "image/heic"))
    assert response.status_code == 303
    doc, = documents()
    response = patient_client.get(f"/documents/{doc.public_id}/download")
    assert response.mimetype == "image/jpeg"
    assert 'filename=IMG_4412.jpg' in response.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(response.get_data()))
    assert image.size == (320, 240)


def test_several_files_in_one_upload(patient_client):
    response = upload(patient_client, (files.pdf("page one"), "one.pdf"),
                      (files.jpeg(), "two.jpg"), (files.png(), "three.png"))
    assert response.status_code == 303
    assert [d.original_name for d in documents()] == ["one.pdf", "two.jpg", "three.png"]
    assert "Your 3 files were uploaded" in patient_client.get("/me/documents/").get_data(
        as_text=True)


def test_camera_photo_field(patient_client):
    response = upload(patient_client, (files.jpeg(), "image.jpg", "image/jpeg"), field="photo")
    assert response.status_code == 303
    assert [d.original_name for d in documents()] == ["image.jpg"]


def test_the_form_offers_the_camera_and_the_types(patient_client):
    doc = parse(patient_client.get("/me/documents/").get_data(as_text=True))
    chooser, camera = doc.by_id("files"), doc.by_id("photo")
    assert chooser.attrs["type"] == "file" and "multiple" in chooser.attrs
    assert "application/pdf" in chooser.attrs["accept"] and "image/heic" in chooser.attrs["accept"]
    assert camera.attrs["accept"] == "image/*" and camera.attrs["capture"] == "environment"
    form = doc.find_all("form", action="/me/documents/upload")[0]
    assert form.attrs["enctype"] == "multipart/form-data" and form.attrs["method"] == "post"


# --- refused ----------------------------------------------------------------------------

NOT_A_TYPE = "is not a PDF, JPEG, PNG or HEIC file"


@pytest.mark.parametrize("data,name,claim", [
    (files.EXECUTABLE, "clearance.pdf", "application/pdf"),
    (files.ELF, "photo.jpg", "image/jpeg"),
    (files.HTML, "clearance.pdf", "application/pdf"),
    (files.HTML, "scan.png", "image/png"),
    (files.SVG, "clearance.png", "image/png"),
    (files.SVG, "clearance.pdf", "application/pdf"),
    (files.HTML_WITH_PDF_INSIDE, "clearance.pdf", "application/pdf"),
    (b"GIF89a" + b"\x00" * 64, "photo.jpg", "image/jpeg"),
], ids=["exe-as-pdf", "elf-as-jpg", "html-as-pdf", "html-as-png", "svg-as-png", "svg-as-pdf",
        "html-then-pdf", "gif-as-jpg"])
def test_disguised_files_are_refused(patient_client, data, name, claim):
    response = upload(patient_client, (data, name, claim))
    assert response.status_code == 422
    assert f"{name} {NOT_A_TYPE}" in field_errors(response)
    assert documents() == []


@pytest.mark.parametrize("data,name", [
    (files.pdf()[:200], "cut.pdf"),
    (files.jpeg()[:300], "cut.jpg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "fake.png"),
    (b"%PDF-1.7\n" + b"garbage " * 50, "fake.pdf"),
])
def test_files_that_only_start_right_are_refused(patient_client, data, name):
    response = upload(patient_client, (data, name))
    refused_by_the_check(patient_client, response, f"{name} could not be opened")


@pytest.mark.parametrize("make,message", [
    (files.pdf_with_javascript, "contains scripts"),
    (files.pdf_with_escaped_javascript, "contains scripts"),
    (files.pdf_with_embedded_file, "has other files attached inside it"),
    # The OpenAction is the object stream itself (the action inside it is in no
    # cross-reference table): an action no reader can make sense of.
    (files.pdf_with_javascript_in_object_stream, "could not be checked for safety"),
])
def test_pdfs_with_active_content_are_refused(patient_client, make, message):
    """Refused, not flagged (see portal/documents/content.py and the README for why); more
    in test_pdf_structure.py."""
    response = upload(patient_client, (make(), "clearance.pdf"))
    refused_by_the_check(patient_client, response, f"clearance.pdf {message}")


@pytest.mark.parametrize("make", [files.png_header_bomb, files.png_real_bomb])
def test_decompression_bombs_are_refused(patient_client, make):
    data = make()
    assert len(data) < 200_000
    response = upload(patient_client, (data, "bomb.png"))
    refused_by_the_check(patient_client, response, "bomb.png is too large an image")


def test_an_empty_file_is_refused(patient_client):
    response = upload(patient_client, (b"", "empty.pdf"))
    assert response.status_code == 422
    assert "empty.pdf is empty." in field_errors(response)


@pytest.fixture
def small_limit(app_config):
    app_config["DOCUMENT_MAX_BYTES"] = 20_000


def test_a_file_at_the_limit_is_kept_and_one_byte_over_is_refused(small_limit, patient_client):
    at_limit, over = files.padded_pdf(20_000), files.padded_pdf(20_001)
    assert len(at_limit) == 20_000 and len(over) == 20_001
    response = upload(patient_client, (over, "over.pdf"))
    assert response.status_code == 422
    assert "over.pdf is larger than 0.019" in field_errors(response)
    assert documents() == []
    assert upload(patient_client, (at_limit, "at-limit.pdf")).status_code == 303
    assert [d.size for d in documents()] == [20_000]


def test_nothing_of_an_upload_is_kept_when_one_file_is_refused(patient_client):
    response = upload(patient_client, (files.pdf(), "good.pdf"), (files.HTML, "bad.pdf"),
                      (files.jpeg(), "good.jpg"))
    assert response.status_code == 422
    errors = field_errors(response)
    assert "bad.pdf" in errors and "good.pdf" not in errors
    assert documents() == []


def test_no_file_chosen(patient_client):
    response = patient_client.post("/me/documents/upload", data={"kind": "clearance"},
                                   content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose at least one file" in field_errors(response)


@pytest.fixture
def two_files_at_most(app_config):
    app_config["DOCUMENT_MAX_FILES"] = 2


def test_too_many_files(two_files_at_most, patient_client):
    response = upload(patient_client, *[(files.pdf(str(i)), f"{i}.pdf") for i in range(3)])
    assert response.status_code == 422
    assert "Upload at most 2 files at a time." in field_errors(response)


def test_unknown_kind_is_refused(patient_client):
    response = upload(patient_client, (files.pdf(), "a.pdf"), kind="passport")
    assert response.status_code == 422
    assert parse(response.get_data(as_text=True)).by_id("kind-error") is not None


# --- names are display metadata only ---------------------------------------------------

@pytest.mark.parametrize("sent,shown", [
    ("../../../../etc/passwd.pdf", "passwd.pdf"),
    # (multipart quoting already eats backslashes on the way: no separator survives)
    ("..\\..\\Windows\\System32\\evil.pdf", None),
    ("/var/lib/portal/documents/ab/x.pdf", "x.pdf"),
    ("report\x00.pdf", "report.pdf"),
    ("a\x1b[31mred\x07.pdf", "a[31mred.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override stripped
    ("  ..hidden.pdf  ", "hidden.pdf"),
    ("..", "document"),
    ("", "document"),
    ("lettre de la Dre Côté.pdf", "lettre de la Dre Côté.pdf"),
])
def test_file_names_are_sanitised_and_never_paths(patient_client, storage_backend, sent,
                                                  shown):
    response = upload(patient_client, (files.pdf(f"named {sent!r}"), sent))
    if not sent:
        # A nameless part is what an empty file input sends: nothing chosen.
        assert response.status_code == 422
        return
    assert response.status_code == 303
    doc, = documents()
    if shown is None:
        assert "\\" not in doc.original_name and "/" not in doc.original_name
        assert not doc.original_name.startswith(".")
    else:
        assert doc.original_name == shown
    assert re.fullmatch(r"[0-9a-f]{32}", doc.blob_key)
    assert re.fullmatch(r"[0-9a-f]{32}", doc.preview_key)
    header = patient_client.get(f"/documents/{doc.public_id}/download").headers[
        "Content-Disposition"]
    assert header.startswith("attachment;")
    assert "/" not in header and "\\" not in header and ".." not in header.replace("...", "")
    assert not any(ord(c) < 32 for c in header)


def test_a_255_character_name(patient_client):
    name = "c" * 251 + ".pdf"
    response = upload(patient_client, (files.pdf(), name))
    assert response.status_code == 303
    doc, = documents()
    assert len(doc.original_name) <= 200 and doc.original_name.endswith(".pdf")
    assert doc.original_name.startswith("cccc")
    assert len(content.display_name("d" * 1000)) == 200


def test_sanitised_names_on_the_staff_page_are_escaped(patient_client, doctor_client, patient):
    upload(patient_client, (files.pdf(), '<img src=x onerror="alert(1)">.pdf'))
    html = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents").get_data(
        as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


# --- metadata ---------------------------------------------------------------------------

def test_exif_and_gps_are_stripped_from_photos(patient_client, storage_backend):
    original = files.jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(files.GPS_IFD)  # it had GPS
    response = upload(patient_client, (original, "photo.jpg"))
    assert response.status_code == 303
    doc, = documents()
    stored = download(patient_client, doc)
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and not image.getexif().get_ifd(files.GPS_IFD)
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert "comment" not in image.info
    for secret in (b"PhoneMaker", b"Phone 15 Pro", b"SecretCameraApp", b"Secret Street", b"Exif"):
        assert secret not in stored
    # The preview too.
    preview = patient_client.get(f"/documents/{doc.public_id}/preview").get_data()
    assert b"PhoneMaker" not in preview and not Image.open(io.BytesIO(preview)).getexif()


def test_png_text_chunks_and_exif_are_stripped(patient_client):
    original = files.png_with_metadata()
    assert b"Secret Street" in original
    assert upload(patient_client, (original, "scan.png")).status_code == 303
    doc, = documents()
    stored = download(patient_client, doc)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and not getattr(image, "text", {}) and not image.getexif()
    assert b"Secret Street" not in stored and b"eXIf" not in stored and b"tEXt" not in stored


def test_photos_are_turned_upright_before_their_orientation_tag_goes(patient_client):
    # Stored sideways (400 x 200) with "rotate 90" in EXIF: upright it is 200 x 400.
    assert upload(patient_client, (files.jpeg_with_gps((400, 200), orientation=6),
                                   "sideways.jpg")).status_code == 303
    doc, = documents()
    assert Image.open(io.BytesIO(download(patient_client, doc))).size == (200, 400)


def test_sha256_of_the_stored_content_is_recorded(patient_client):
    import hashlib
    upload(patient_client, (files.pdf(), "a.pdf"), (files.jpeg_with_gps(), "b.jpg"))
    for doc in documents():
        body = download(patient_client, doc)
        assert doc.sha256 == hashlib.sha256(body).hexdigest()
        assert doc.size == len(body)


# --- duplicates ---------------------------------------------------------------------------

def test_the_same_file_twice_is_refused_with_a_clear_message(patient_client):
    data = files.pdf("the letter")
    assert upload(patient_client, (data, "letter.pdf")).status_code == 303
    response = upload(patient_client, (data, "letter (1).pdf"))
    assert response.status_code == 422
    assert re.search(r"You already uploaded letter \(1\)\.pdf on \w+ \d+, \d{4}\.",
                     field_errors(response))
    assert len(documents()) == 1


def test_the_same_file_twice_in_one_upload(patient_client):
    data = files.pdf("the letter")
    response = upload(patient_client, (data, "a.pdf"), (data, "b.pdf"))
    assert response.status_code == 422
    assert "b.pdf was chosen twice." in field_errors(response)
    assert documents() == []


def test_the_same_photo_twice_is_a_duplicate_too(patient_client):
    """Re-encoding is deterministic, so the stored hash catches the same photo again."""
    data = files.jpeg_with_gps()
    assert upload(patient_client, (data, "a.jpg")).status_code == 303
    assert upload(patient_client, (data, "b.jpg")).status_code == 422


def test_two_patients_may_upload_the_same_file(patient_client, app):
    from tests.conftest import Auth, CSRFClient
    from tests.factories import make_patient
    data = files.pdf("a form letter")
    assert upload(patient_client, (data, "letter.pdf")).status_code == 303
    app.test_client_class = CSRFClient
    other = app.test_client()
    Auth(other).login(make_patient())
    assert upload(other, (data, "letter.pdf")).status_code == 303
    assert len(documents()) == 2


# --- the helpers themselves ------------------------------------------------------------

@pytest.mark.parametrize("given,shown", [
    ("..\\..\\evil.pdf", "evil.pdf"),
    ("C:\\Users\\pat\\Desktop\\scan.jpg", "scan.jpg"),
    ("a/b/c.png", "c.png"),
    ("\u202ecod.exe", "cod.exe"),
    ("tab\there.pdf", "tabhere.pdf"),
    ("e\u0301te\u0301.pdf", "été.pdf"),  # NFC
    (None, "document"),
])
def test_display_name(given, shown):
    assert content.display_name(given) == shown


@pytest.mark.parametrize("original,stored,offered", [
    ("IMG_1.HEIC", "image/jpeg", "IMG_1.jpg"),
    ("letter.pdf", "application/pdf", "letter.pdf"),
    ("letter.exe", "application/pdf", "letter.pdf"),
    ("noext", "image/png", "noext.png"),
    ("...", "image/png", "document.png"),
])
def test_download_name_has_the_real_extension(original, stored, offered):
    assert content.download_name(original, stored) == offered


def test_sniff_reads_magic_bytes_only():
    assert content.sniff(files.pdf()[:64]) == "application/pdf"
    assert content.sniff(files.jpeg()[:64]) == "image/jpeg"
    assert content.sniff(files.png()[:64]) == "image/png"
    assert content.sniff(files.heic()[:64]) == "image/heic"
    for other in (files.EXECUTABLE, files.HTML, files.SVG, b"", b" %PDF-1.7"):
        assert content.sniff(other[:64]) is None
