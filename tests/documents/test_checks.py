"""Uploads are checked by the background worker, not in the request (SPEC 3.1): the request
stores the file as it came and answers at once; the worker makes it ready for review or
refuses it; staff never see a file being checked or refused; and whatever happens to
workers (two at once, one killed mid-check, a lost task) there is one result and one set of
stored files."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import clock, storage, tasks
from portal.documents import checks, content, services
from portal.extensions import db
from portal.models import AuditEvent, Document
from tests.documents import files
from tests.documents.conftest import BOTH_BACKENDS, HX, stored_keys, upload
from tests.factories import make_document
from tests.markup import parse

# The project's shared corpus sits beside the repository's folder (shared/corpus); the
# PORTAL_CORPUS variable names another place. Missing, the corpus tests fail: never skipped.
CORPUS = Path(os.environ.get("PORTAL_CORPUS")
              or Path(__file__).resolve().parents[3] / "shared" / "corpus") / "documents"

# Refused by the request itself: what the size and the first bytes tell.
REFUSED_BY_THE_REQUEST = {"empty.pdf": "is empty", "html-named.pdf": "is not a PDF",
                          "program-named.pdf": "is not a PDF", "svg-named.png": "is not a PDF",
                          "over-10-mib.pdf": "is larger than 10 MB"}
# Refused by the worker's check: the refusal code, and what the patient reads after the
# file's name, in English and in French.
REFUSED_BY_THE_CHECK = {
    "js-openaction.pdf": ("pdf_scripts", "contains scripts", "contient des scripts"),
    "js-openaction-in-object-stream.pdf": ("pdf_scripts", "contains scripts",
                                           "contient des scripts"),
    "js-document-level-names.pdf": ("pdf_scripts", "contains scripts", "contient des scripts"),
    "js-page-open-action.pdf": ("pdf_scripts", "contains scripts", "contient des scripts"),
    "xfa-form.pdf": ("pdf_scripts", "contains scripts", "contient des scripts"),
    "launch-action.pdf": ("pdf_launch", "can start programs or open files",
                          "peut lancer des programmes ou ouvrir des fichiers"),
    "embedded-file.pdf": ("pdf_attachments", "has other files attached inside it",
                          "contient d'autres fichiers joints"),
    "password-protected.pdf": ("pdf_password", "is protected by a password",
                               "est protégé par un mot de passe"),
    "pdf-header-only.pdf": ("unreadable", "could not be opened", "Impossible d'ouvrir"),
    "truncated.jpg": ("unreadable", "could not be opened", "Impossible d'ouvrir"),
    "decompression-bomb.png": ("pixels", "is too large an image", "est trop grande"),
}


def the(doc: Document) -> Document:
    db.session.expire_all()
    return db.session.get(Document, doc.id)


def only_document() -> Document:
    db.session.expire_all()
    doc, = db.session.scalars(select(Document))
    return doc


def actions(doc: Document) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action)
                                   .where(AuditEvent.subject == doc.public_id)
                                   .order_by(AuditEvent.id)))


def uploaded(patient, data: bytes | None = None, name: str = "letter.pdf") -> Document:
    """Through the service as a request does it: stored, "checking", its check queued."""
    doc, = services.upload(patient.patient, patient, "clearance",
                           [services.Upload(name, io.BytesIO(data or files.pdf()))],
                           check_now=False)
    return doc


def staff_sees(doctor_client, patient, doc: Document) -> bool:
    chart = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents")
    worklist = doctor_client.get("/clinic/").get_data(as_text=True)
    queue = worklist[worklist.index('id="clearances-to-review"'):]
    queue = queue[:queue.index("</section>")]
    seen = doc.public_id in chart.get_data(as_text=True) or patient.name in queue
    for path in ("download", "preview"):
        if doctor_client.get(f"/documents/{doc.public_id}/{path}").status_code != 404:
            seen = True
    return seen


# --- the request answers at once; the worker concludes ------------------------------------

def test_the_request_stores_the_original_and_queues_its_check(patient_client, doctor_client,
                                                               patient):
    data = files.jpeg_with_gps()
    response = upload(patient_client, (data, "photo.jpg"), check=False)
    assert response.status_code == 303
    doc = only_document()
    assert doc.status == "checking"
    assert (doc.blob_key, doc.preview_key, doc.sha256) == (None, None, None)
    assert doc.original_sha256 == content.receive(io.BytesIO(data), "x",
                                                  max_bytes=10 ** 7).sha256
    assert stored_keys() == {doc.original_key}
    assert b"".join(storage.get_storage().read(doc.original_key)) == data  # as it came
    assert [t.name for t in tasks.huey.pending()] == ["check_document"]

    # Meanwhile: "Checking…" for the patient, nothing for staff, no file for anyone.
    line = parse(patient_client.get("/me/documents/").get_data(as_text=True)).by_id(
        f"doc-{doc.public_id}")
    assert "Checking…" in line.text and "Download" not in line.text
    assert patient_client.get(f"/documents/{doc.public_id}/download").status_code == 404
    assert not staff_sees(doctor_client, patient, doc)

    assert tasks.run_pending() == 1
    doc = the(doc)
    assert doc.status == "pending" and doc.original_key is None
    assert stored_keys() == {doc.blob_key, doc.preview_key}  # the original is gone
    assert doc.sha256 != doc.original_sha256  # stored without its EXIF
    assert actions(doc) == ["document.uploaded", "document.checked"]
    assert staff_sees(doctor_client, patient, doc)


def test_a_refused_file_keeps_nothing_but_its_name(patient_client, doctor_client, patient):
    response = upload(patient_client, (files.pdf_with_javascript(), "letter.pdf"))
    assert response.status_code == 303
    doc = only_document()
    assert doc.status == "refused" and doc.refusal_code == "pdf_scripts"
    assert doc.original_name == "letter.pdf"
    assert (doc.sha256, doc.original_sha256, doc.blob_key, doc.preview_key,
            doc.original_key) == (None,) * 5
    assert stored_keys() == set()
    assert actions(doc) == ["document.uploaded", "document.refused"]
    assert not staff_sees(doctor_client, patient, doc)
    assert patient_client.get(f"/documents/{doc.public_id}/download").status_code == 404
    # The same file may be tried again (and is refused again, by the check).
    assert upload(patient_client, (files.pdf_with_javascript(), "again.pdf")).status_code == 303


def test_the_refusal_is_told_in_the_patients_language(app, patient, patient_client):
    from flask_babel import force_locale

    from portal.documents.views import refusal_text
    doc = the(make_document(patient, status="refused", name="lettre.pdf"))
    patient.locale = "fr_CA"
    db.session.commit()
    with app.test_request_context(), force_locale("fr_CA"):
        french = refusal_text(doc)
    assert "lettre.pdf" in french and "could not be opened" not in french
    html = patient_client.get("/me/documents/").get_data(as_text=True)
    assert french in parse(html).by_id(f"doc-{doc.public_id}").text


def test_the_same_content_twice_is_refused_by_the_check(patient_client):
    """Two photos with different bytes (one carries EXIF and GPS) and the same pixels: the
    request cannot tell, the stored content can."""
    tagged = files.jpeg_with_gps()
    plain = files.samples.encode(files.samples.letter_image(("Clearance",), (400, 200)), "JPEG")
    assert tagged != plain
    assert upload(patient_client, (tagged, "a.jpg")).status_code == 303
    assert upload(patient_client, (plain, "b.jpg")).status_code == 303
    db.session.expire_all()
    first, second = db.session.scalars(select(Document).order_by(Document.id))
    assert first.status == "pending"
    assert second.status == "refused" and second.refusal_code == "duplicate"
    line = parse(patient_client.get("/me/documents/").get_data(as_text=True)).by_id(
        f"doc-{second.public_id}")
    assert "You already uploaded b.jpg on" in line.text


# --- the corpus: real files from other programs -------------------------------------------

def _corpus(folder: str) -> list:
    return [pytest.param(path, id=path.name) for path in sorted((CORPUS / folder).iterdir())]


@pytest.mark.parametrize("path", _corpus("accept"))
def test_corpus_files_to_accept_end_ready_for_review(patient_client, doctor_client, patient,
                                                    path):
    response = upload(patient_client, (path.read_bytes(), path.name))
    assert response.status_code == 303, response.get_data(as_text=True)
    doc = only_document()
    assert doc.status == "pending", (doc.refusal_code, doc.refusal_params)
    assert stored_keys() == {doc.blob_key, doc.preview_key}
    preview = doctor_client.get(f"/documents/{doc.public_id}/preview")
    assert preview.status_code == 200 and preview.get_data()[:3] == b"\xff\xd8\xff"
    assert staff_sees(doctor_client, patient, doc)


@pytest.mark.parametrize("path", _corpus("refuse"))
def test_corpus_files_to_refuse_are_refused_with_a_message(patient_client, doctor_client,
                                                          patient, path):
    before = stored_keys()
    response = upload(patient_client, (path.read_bytes(), path.name))
    assert stored_keys() == before
    if path.name in REFUSED_BY_THE_REQUEST:
        assert response.status_code == 422
        errors = parse(response.get_data(as_text=True)).by_id("files-error").text
        assert f"{path.name} {REFUSED_BY_THE_REQUEST[path.name]}" in errors
        assert db.session.scalar(select(Document.id)) is None
        return
    assert response.status_code == 303
    code, message, _ = REFUSED_BY_THE_CHECK[path.name]  # a new corpus file needs its reason
    doc = only_document()
    assert (doc.status, doc.refusal_code) == ("refused", code)
    line = parse(patient_client.get("/me/documents/").get_data(as_text=True)).by_id(
        f"doc-{doc.public_id}")
    assert "Refused" in line.text and f"{path.name} {message}" in line.text
    assert not staff_sees(doctor_client, patient, doc)


@pytest.mark.parametrize("path", [p for p in _corpus("refuse")
                                  if p.values[0].name in REFUSED_BY_THE_CHECK])
def test_corpus_refusals_are_told_in_french(patient_client, patient, path):
    patient.locale = "fr_CA"
    db.session.commit()
    assert upload(patient_client, (path.read_bytes(), path.name)).status_code == 303
    doc = only_document()
    line = parse(patient_client.get("/me/documents/").get_data(as_text=True)).by_id(
        f"doc-{doc.public_id}").text
    french = REFUSED_BY_THE_CHECK[path.name][2]
    assert path.name in line and french in line, line
    assert REFUSED_BY_THE_CHECK[path.name][1] not in line


# --- workers: killed, twice at once, a lost task -------------------------------------------

@BOTH_BACKENDS
def test_a_worker_killed_mid_check_and_the_check_run_again(app, storage_backend, patient,
                                                           monkeypatch):
    doc = uploaded(patient, files.jpeg(), "photo.jpg")
    real_write = checks.audit.write

    def killed(*args, **kwargs):
        raise SystemExit("the worker was stopped")  # after the blobs, before the commit
    monkeypatch.setattr(checks.audit, "write", killed)
    with pytest.raises(SystemExit):
        checks.check(doc.id)
    db.session.rollback()
    monkeypatch.setattr(checks.audit, "write", real_write)
    doc = the(doc)
    assert doc.status == "checking" and doc.check_claimed_until is not None
    assert stored_keys() == {doc.original_key}  # what it wrote went with its transaction

    assert checks.check(doc.id) is None  # the claim holds for a while
    assert checks.check_due() == 0
    clock.advance(minutes=11)
    assert checks.check_due() == 1  # the periodic task takes it up again
    doc = the(doc)
    assert doc.status == "pending"
    assert stored_keys() == {doc.blob_key, doc.preview_key}
    assert actions(doc) == ["document.uploaded", "document.checked"]


def test_a_second_check_while_the_first_holds_the_claim_does_nothing(app, patient,
                                                                     monkeypatch):
    doc = uploaded(patient)
    results = []
    real_prepare = content.prepare

    def prepare_and_meanwhile(*args, **kwargs):
        with app.app_context():  # another worker, its own session
            results.append(checks.check(doc.id))
        return real_prepare(*args, **kwargs)
    monkeypatch.setattr(content, "prepare", prepare_and_meanwhile)
    assert checks.check(doc.id) == "pending"
    assert results == [None]
    doc = the(doc)
    assert stored_keys() == {doc.blob_key, doc.preview_key}


@BOTH_BACKENDS
def test_a_check_that_lost_its_claim_writes_nothing(app, storage_backend, patient,
                                                    monkeypatch):
    """The first worker is so slow that its claim expires and a second one checks the file;
    when the first is done, its result (and the files it stored) are dropped."""
    doc = uploaded(patient, files.png(), "scan.png")
    real_prepare = content.prepare
    second = []

    def slow_prepare(*args, **kwargs):
        prepared = real_prepare(*args, **kwargs)
        if not second:
            second.append("started")
            clock.advance(minutes=11)
            with app.app_context():
                second.append(checks.check(doc.id))
        return prepared
    monkeypatch.setattr(content, "prepare", slow_prepare)
    assert checks.check(doc.id) is None
    assert second == ["started", "pending"]
    doc = the(doc)
    assert doc.status == "pending"
    assert stored_keys() == {doc.blob_key, doc.preview_key}
    assert actions(doc) == ["document.uploaded", "document.checked"]


def test_a_check_that_lost_its_claim_to_a_worker_still_busy_writes_nothing(app, patient,
                                                                          monkeypatch):
    """The first worker's claim expires and a second claims the file; the first finishes
    while the second is still at work: the result is the claimant's to write, not the
    first's."""
    doc = uploaded(patient)
    real_prepare = content.prepare

    def slow_prepare(*args, **kwargs):
        clock.advance(minutes=11)
        with app.app_context():
            assert checks._claim(doc.id) is not None  # the second worker starts
        return real_prepare(*args, **kwargs)
    monkeypatch.setattr(content, "prepare", slow_prepare)
    assert checks.check(doc.id) is None
    monkeypatch.undo()
    doc = the(doc)
    assert doc.status == "checking" and stored_keys() == {doc.original_key}
    clock.advance(minutes=11)  # the second one stopped too: the periodic task finishes
    assert checks.check_due() == 1
    doc = the(doc)
    assert doc.status == "pending" and stored_keys() == {doc.blob_key, doc.preview_key}


def test_checking_twice_stores_one_set_of_files(app, patient):
    doc = uploaded(patient)
    assert checks.check(doc.id) == "pending"
    assert checks.check(doc.id) is None
    assert tasks.run_pending() == 1  # the queued task finds nothing to do
    doc = the(doc)
    assert stored_keys() == {doc.blob_key, doc.preview_key}
    assert actions(doc).count("document.checked") == 1


def test_the_periodic_task_picks_up_a_lost_check(patient_client):
    assert upload(patient_client, (files.pdf(), "letter.pdf"), check=False).status_code == 303
    tasks.huey.flush()  # the queue lost it (Redis restarted, say)
    doc = only_document()
    tasks.check_documents()  # the minute's tick: too early, its task may still come
    tasks.run_pending()
    assert the(doc).status == "checking"
    clock.advance(minutes=2)
    tasks.check_documents()
    assert tasks.run_pending() == 1
    assert the(doc).status == "pending"


def test_an_unreachable_queue_does_not_fail_the_upload(patient_client, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("the queue is down")
    monkeypatch.setattr(tasks.huey, "enqueue", down)
    response = upload(patient_client, (files.pdf(), "letter.pdf"), check=False)
    assert response.status_code == 303
    monkeypatch.undo()
    assert only_document().status == "checking"  # the periodic task will come for it
    clock.advance(minutes=2)
    assert checks.check_due() == 1 and only_document().status == "pending"


def test_a_missing_original_is_refused_not_retried_for_ever(app, patient):
    doc = uploaded(patient)
    storage.get_storage().delete(doc.original_key)
    db.session.commit()
    assert checks.check(doc.id) == "refused"
    assert the(doc).refusal_code == "unreadable"


@BOTH_BACKENDS
def test_the_sweep_leaves_a_file_being_checked_alone(app, storage_backend, patient):
    doc = uploaded(patient)
    assert doc.original_key in storage.known_document_keys()
    clock.advance(hours=2)  # older than the sweep's grace period
    storage.sweep_documents()
    assert storage.get_storage().exists(doc.original_key)
    clock.reset()
    assert checks.check(doc.id) == "pending"


# --- the patient's page while checking ----------------------------------------------------

def test_the_checking_line_asks_for_itself_until_the_check_is_done(patient_client, patient):
    doc = uploaded(patient)
    page = parse(patient_client.get("/me/documents/").get_data(as_text=True))
    line = page.by_id(f"doc-{doc.public_id}")
    url = f"/me/documents/{doc.public_id}/line"
    assert line.attrs["data-hx-get"] == url and line.attrs["data-hx-trigger"] == "every 2s"
    assert line.attrs["data-hx-swap"] == "outerHTML"
    assert "We are checking your clearance" in page.by_id("clearance-notice").text

    response = patient_client.get(url, headers=HX)  # still checking
    assert response.status_code == 200 and "HX-Trigger" not in response.headers
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<li class="doc" id="doc-{doc.public_id}"')
    assert "Checking…" in html

    tasks.run_pending()
    response = patient_client.get(url, headers=HX)
    line = parse(response.get_data(as_text=True)).by_id(f"doc-{doc.public_id}")
    assert "data-hx-trigger" not in line.attrs  # final: it stops asking
    assert "Waiting for review" in line.text
    assert "document-checked" in response.headers["HX-Trigger"]
    notice = patient_client.get("/me/documents/clearance", headers=HX)
    assert "Your clearance is waiting for review" in notice.get_data(as_text=True)
    assert parse(notice.get_data(as_text=True)).by_id("clearance-notice").attrs[
        "data-hx-trigger"] == "document-checked from:body"


def test_without_javascript_the_fragments_send_the_browser_to_the_page(patient_client,
                                                                       patient):
    doc = uploaded(patient)
    response = patient_client.get(f"/me/documents/{doc.public_id}/line")
    assert response.status_code == 303
    assert response.location.endswith(f"/me/documents/#doc-{doc.public_id}")
    assert patient_client.get("/me/documents/clearance").status_code == 303


def test_a_refused_line_is_removed_by_the_patient(patient_client, patient):
    doc = make_document(patient, status="refused", name="bad.pdf")
    assert the(doc).status == "refused"
    patient_client.get("/me/documents/")
    response = patient_client.post(f"/me/documents/{doc.public_id}/withdraw", headers=HX)
    assert response.status_code == 200
    assert "bad.pdf was removed from your list." in response.get_data(as_text=True)
    assert db.session.scalar(select(Document.id)) is None
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.subject == doc.public_id).order_by(AuditEvent.id.desc()).limit(1)) == \
        "document.withdrawn"


def test_a_file_being_checked_cannot_be_withdrawn_yet(patient_client, patient):
    doc = uploaded(patient)
    patient_client.get("/me/documents/")
    response = patient_client.post(f"/me/documents/{doc.public_id}/withdraw")
    assert response.status_code == 303
    assert "letter.pdf is still being checked" in patient_client.get(
        "/me/documents/").get_data(as_text=True)
    assert the(doc).status == "checking"


# --- staff never see a file being checked or refused ---------------------------------------

def test_staff_never_see_checking_or_refused_documents(app, doctor_client, patient):
    checking = uploaded(patient, name="being-checked.pdf")
    refused = make_document(patient, status="refused", name="refused.pdf")
    chart = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/documents")
    html = chart.get_data(as_text=True)
    assert "being-checked.pdf" not in html and "refused.pdf" not in html
    assert "No clearance uploaded yet." in html
    assert "No clearances are waiting for review." in doctor_client.get("/clinic/").get_data(
        as_text=True)
    assert services.count_clearances_to_review() == 0
    assert services.clearance_state(patient.patient, for_staff=True).state == "missing"
    summary = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/summary")
    assert summary.status_code == 200
    summary = parse(summary.get_data(as_text=True)).by_id("summary-clearance").text
    assert "None uploaded" in summary
    for doc in (checking, refused):
        for path in ("download", "preview"):
            assert doctor_client.get(f"/documents/{doc.public_id}/{path}").status_code == 404
        for action in ("accept", "reject"):
            assert doctor_client.post(f"/clinic/documents/{doc.public_id}/{action}").status_code \
                == 404
    export = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/fhir.json")
    assert export.status_code == 200
    assert "DocumentReference" not in export.get_data(as_text=True)


@pytest.mark.parametrize("setup,state,todo", [
    (lambda p: uploaded(p), "checking", "clearance_checking"),
    (lambda p: make_document(p, status="refused"), "missing", "clearance_missing"),
])
def test_clearance_state_for_the_patient(app, patient, setup, state, todo):
    from portal.patient.services import todos
    setup(patient)
    assert services.clearance_state(patient.patient).state == state
    assert f"{todo}" in [t.key for t in todos(patient.patient)]
    assert not services.is_cleared(patient.patient)


def test_a_clearance_waiting_for_review_comes_before_one_being_checked(app, patient):
    make_document(patient)
    uploaded(patient)
    assert services.clearance_state(patient.patient).state == "pending"
