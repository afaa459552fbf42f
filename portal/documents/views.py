"""Uploading, reviewing and reading documents. Every document is reached through the one
authorization rule (security.patient_for on the document's patient): anyone else gets 404."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from portal import chart_frame, htmx, streaming
from portal.documents import bp, forms, services
from portal.documents.content import Refused, download_name
from portal.formats import format_date
from portal.forms import EmptyForm
from portal.models import Document, Patient
from portal.models.document import STAFF_STATUSES
from portal.security import (
    admin_required,
    me,
    own_patient,
    passive,
    patient_for,
    role_required,
    staff_required,
)

signed_in_required = role_required("patient", "practitioner", "admin")

# Files are served with no room to act: downloaded, never sniffed, never cached, and if a
# browser does render one, sandboxed with nothing allowed.
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


def _messages() -> dict[str, str]:
    return {
        "empty": _("%(name)s is empty."),
        "too_big": _("%(name)s is larger than %(mb)s MB."),
        "type": _("%(name)s is not a PDF, JPEG, PNG or HEIC file."),
        "unreadable": _("%(name)s could not be opened. It may be damaged: try saving it or "
                        "taking the photo again."),
        "pixels": _("%(name)s is too large an image. Please use a photo at your phone's "
                    "usual size."),
        # Refused before the check judged PDFs by their structure (kept for those records).
        "pdf_active": _("%(name)s contains scripts or attached files, which the portal does "
                        "not accept for your safety. Upload a photo of the letter instead, "
                        "or print the file to a new PDF and upload that."),
        # The reasons portal.documents.pdfscan gives.
        "pdf_scripts": _("%(name)s contains scripts (small programs that run in the PDF "
                         "reader), which the portal does not accept for your safety. Upload "
                         "a photo of the letter instead, or print the file to a new PDF and "
                         "upload that."),
        "pdf_launch": _("%(name)s can start programs or open files on the computer that "
                        "opens it, which the portal does not accept for your safety. Upload "
                        "a photo of the letter instead, or print the file to a new PDF and "
                        "upload that."),
        "pdf_sends_data": _("%(name)s contains a form that sends or fetches information "
                            "by itself, which the portal does not accept for your safety. "
                            "Upload a photo of the letter instead, or print the file to a "
                            "new PDF and upload that."),
        "pdf_web": _("%(name)s opens a web page or another file by itself as soon as it is "
                     "opened, which the portal does not accept for your safety. Upload a "
                     "photo of the letter instead, or print the file to a new PDF and "
                     "upload that."),
        "pdf_attachments": _("%(name)s has other files attached inside it, which the portal "
                             "does not accept for your safety. Upload a photo of the letter "
                             "instead, or print the file to a new PDF and upload that."),
        "pdf_media": _("%(name)s contains video, sound or other interactive content, which "
                       "the portal does not accept for your safety. Upload a photo of the "
                       "letter instead, or print the file to a new PDF and upload that."),
        "pdf_locked": _("%(name)s is locked by the program that made it, so the portal "
                        "cannot check it. Upload a photo of the letter instead, or print the "
                        "file to a new PDF and upload that."),
        "pdf_unchecked": _("%(name)s could not be checked for safety. Upload a photo of the "
                           "letter instead, or print the file to a new PDF and upload that."),
        "pdf_password": _("%(name)s is protected by a password. Upload a copy without a "
                          "password, or a photo of the letter."),
        "duplicate": _("You already uploaded %(name)s on %(date)s."),
        "duplicate_batch": _("%(name)s was chosen twice."),
        "duplicate_now": _("%(name)s is already in your documents."),
        "no_files": _("Choose at least one file, or take a photo."),
        "too_many": _("Upload at most %(n)d files at a time."),
        "kind": _("Choose what you are uploading."),
        "past_date": _("The valid-until date cannot be in the past."),
        "letter_date_missing": _("Enter the date of the physician's letter: the clearance "
                                 "is valid from that day."),
        "letter_date_future": _("The letter's date cannot be in the future."),
        "reason": _("Tell the patient why, so they can send the right document."),
        "already_reviewed": _("This document has already been reviewed."),
        "already_accepted": _("%(who)s already reviewed %(name)s on %(date)s and accepted "
                              "it. Nothing was changed: its current state is shown below."),
        "already_rejected": _("%(who)s already reviewed %(name)s on %(date)s and did not "
                              "accept it. Nothing was changed: its current state is shown "
                              "below."),
        "withdrawn": _("%(name)s was withdrawn by the patient. Nothing was changed."),
        "reviewed_kept": _("Reviewed documents stay in your record. Ask your clinic if one "
                           "should be removed."),
        "admin_only": _("Only an administrator can remove a reviewed document."),
        "still_checking": _("%(name)s is still being checked. Try again in a moment."),
    }


def error_text(error: Refused | services.DocumentError) -> str:
    params = dict(error.params)
    if "when" in params:
        when = params.pop("when")
        # A refusal stored by the worker keeps its date as text (portal.documents.checks).
        params["date"] = format_date(datetime.fromisoformat(when) if isinstance(when, str)
                                     else when, "long")
    message = _messages()[error.code]
    return message % params if params else message


def refusal_text(doc: Document) -> str:
    """Why the check refused ``doc``, in the reader's language, naming the file."""
    code = doc.refusal_code if doc.refusal_code in _messages() else "unreadable"
    return error_text(Refused(code, **{**(doc.refusal_params or {}),
                                       "name": doc.original_name}))


def _document(public_id: str) -> Document:
    """The document, if the signed-in user may see its patient and it (staff never see a
    file still being checked, or refused); otherwise 404."""
    doc = services.document_by_public_id(public_id)
    if doc is None:
        abort(404)
    patient_for(current_user, doc.patient.public_id)
    if not services.visible_to(doc, me()):
        abort(404)
    return doc



def _limits() -> dict:
    cfg = current_app.config
    return {"max_bytes": cfg["DOCUMENT_MAX_BYTES"],
            "max_mb": f"{cfg['DOCUMENT_MAX_BYTES'] / (1024 * 1024):g}",
            "max_files": cfg["DOCUMENT_MAX_FILES"]}


# --- the patient's pages (SPEC 3.1) -----------------------------------------------------

def _mine(form: forms.UploadForm | None = None, status: int = 200) -> Response:
    patient = own_patient()
    if form is None:
        wanted = request.args.get("kind")
        form = forms.UploadForm(formdata=None,
                                kind=wanted if wanted in forms.kind_labels() else None)
    documents = services.patient_documents(patient, for_staff=False)
    return htmx.render("documents/mine.html", "documents/_mine.html", status=status,
                       form=form, **_limits(),
                       **_my_list_context(patient, documents))


def _my_list_context(patient: Patient, documents: list[Document]) -> dict:
    """What the patient's list of documents, and each of its lines, needs."""
    # A rejected clearance with a newer one (being checked, waiting or accepted) needs
    # nothing more.
    newest_clearance = max((d.created_at for d in documents if d.kind == "clearance"
                            and d.status not in ("rejected", "refused")), default=None)
    return {"patient": patient, "documents": documents, "newest_clearance": newest_clearance,
            "clearance": services.clearance_state(patient), "withdraw_form": EmptyForm(),
            "kinds": forms.kind_labels(), "today": services.today(),
            "refusal_text": refusal_text}


@bp.route("/me/documents/")
@role_required("patient")
def mine():
    return _mine()


@bp.route("/me/documents/upload", methods=["POST"])
@role_required("patient")
def upload():
    patient = own_patient()
    form = forms.UploadForm()
    if form.validate_on_submit():
        chosen = [services.Upload(f.filename, f.stream) for f in form.uploads()]
        try:
            documents = services.upload(patient, me(),
                                        form.kind.data, chosen)
        except services.UploadRefused as refused:
            form.files.errors = [error_text(p) for p in refused.problems]
        except services.DocumentError as exc:
            form.files.errors = [error_text(exc)]
        else:
            flash(ngettext("Your file was uploaded. We are checking it, then your clinic "
                           "will review it.",
                           "Your %(num)d files were uploaded. We are checking them, then "
                           "your clinic will review them.",
                           len(documents)), "success")
            if htmx.wants_fragment():
                return _mine()
            return htmx.hx_redirect(url_for("documents.mine"))
    return _mine(form, status=422)


@bp.route("/me/documents/<public_id>/line")
@role_required("patient")
@passive
def my_line(public_id: str):
    """One line of the patient's list, which asks for itself every few seconds while its
    file is being checked; once the check is done it says so to the page (the
    "document-checked" event), whose clearance notice then asks for itself too. Not a page
    of its own: a browser that comes here goes to the list."""
    doc = _document(public_id)
    if not htmx.wants_fragment():
        return redirect(url_for("documents.mine", _anchor=f"doc-{doc.public_id}"), 303)
    documents = services.patient_documents(doc.patient, for_staff=False)
    response = htmx.render("documents/mine.html", "documents/_my_doc.html", doc=doc,
                           **_my_list_context(doc.patient, documents))
    if doc.status != "checking":
        htmx.trigger(response, "document-checked")
    return response


@bp.route("/me/documents/clearance")
@role_required("patient")
@passive
def my_clearance():
    """The clearance notice at the top of the patient's documents, asked for again when a
    check is done (see my_line)."""
    patient = own_patient()
    if not htmx.wants_fragment():
        return redirect(url_for("documents.mine"), 303)
    return htmx.render("documents/mine.html", "documents/_clearance_status.html",
                       clearance=services.clearance_state(patient))


@bp.route("/me/documents/<public_id>/withdraw", methods=["POST"])
@role_required("patient")
def withdraw(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    doc = _document(public_id)
    refused = doc.status == "refused"
    try:
        services.withdraw(doc, me())
    except services.DocumentError as exc:
        flash(error_text(exc), "error")
    else:
        flash(_("%(name)s was removed from your list.", name=doc.original_name) if refused
              else _("%(name)s was withdrawn.", name=doc.original_name), "success")
    if htmx.wants_fragment():
        return _mine()
    return htmx.hx_redirect(url_for("documents.mine"))


# --- the files themselves (SPEC 3.2) ----------------------------------------------------

def _file_response(chunks, mimetype: str, filename: str, length: int | None) -> Response:
    response = streaming.response(chunks, mimetype=mimetype, direct_passthrough=True)
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = "".join(c for c in ascii_name if c.isalnum() or c in " ._-()") or "document"
    if ascii_name == filename:
        response.headers.set("Content-Disposition", "attachment", filename=filename)
    else:
        response.headers.set("Content-Disposition", "attachment", filename=ascii_name,
                             **{"filename*": "UTF-8''" + quote(filename, safe="")})
    if length is not None:
        response.content_length = length
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _checked_document(public_id: str) -> Document:
    """A document whose file may be read: none while being checked, and none kept of a
    refused one (404 for the patient too)."""
    doc = _document(public_id)
    if doc.status not in STAFF_STATUSES:
        abort(404)
    return doc


@bp.route("/documents/<public_id>/download")
@signed_in_required
def download(public_id: str):
    doc = _checked_document(public_id)
    chunks = services.open_file(doc, me())
    return _file_response(chunks, doc.content_type,
                          download_name(doc.original_name, doc.content_type), doc.size)


@bp.route("/documents/<public_id>/preview")
@signed_in_required
def preview(public_id: str):
    doc = _checked_document(public_id)
    if not doc.preview_key:
        abort(404)
    chunks = services.open_file(doc, me(), preview=True)
    return _file_response(chunks, "image/jpeg", f"preview-{doc.public_id}.jpg", None)


# --- review (SPEC 3.3) ------------------------------------------------------------------

def staff_list_context(patient: Patient, submitted: dict | None = None) -> dict:
    """What templates/documents/_staff_list.html needs; the patient chart's documents tab
    renders that fragment with this. ``submitted`` holds forms that failed validation."""
    documents = services.patient_documents(patient, for_staff=True)
    review = {}
    for doc in documents:
        if doc.status == "pending":
            review[doc.public_id] = {"accept": forms.accept_form(doc),
                                     "reject": forms.reject_form(doc)}
    for public_id, given in (submitted or {}).items():
        if public_id in review:  # reviewed meanwhile: no forms for it any more
            review[public_id].update(given)
    return {"patient": patient, "documents": documents, "review": review,
            "clearance": services.clearance_state(patient, for_staff=True),
            "kinds": forms.kind_labels(),
            "remove_form": EmptyForm(), "today": services.today()}


def _staff_page(patient: Patient, submitted: dict | None = None, status: int = 200):
    return chart_frame.render("documents", "documents/patient_documents.html",
                             "documents/_staff_list.html", status=status,
                             **staff_list_context(patient, submitted))


def _after_review(patient: Patient) -> BaseResponse:
    if htmx.wants_fragment():
        return _staff_page(patient)
    return htmx.hx_redirect(url_for("documents.patient_documents",
                                    patient_id=patient.public_id))


@bp.route("/clinic/patients/<patient_id>/documents")
@staff_required
def patient_documents(patient_id: str):
    patient = patient_for(current_user, patient_id)
    services.record_list_view(me(), patient)
    return _staff_page(patient)


def _reviewed_already(doc: Document, exc: services.DocumentError | None = None) -> BaseResponse:
    """A second review (a page left open, or two staff at once): who reviewed it and how,
    and the list as it is now."""
    patient = doc.patient
    flash(error_text(exc or services.already_reviewed(doc)), "warning")
    return _after_review(patient)


def _accept_field(form: forms.AcceptForm, code: str):
    """The field a refusal of the accept form stands by (None: not the form's fault)."""
    if code == "past_date":
        return form.valid_until
    return form.letter_date if code.startswith("letter_date") else None


@bp.route("/clinic/documents/<public_id>/accept", methods=["POST"])
@staff_required
def accept(public_id: str):
    doc = _document(public_id)
    if doc.status != "pending":
        return _reviewed_already(doc)
    form = forms.accept_form(doc, submitted=True)
    if form.validate_on_submit():
        try:
            services.accept(doc, me(), form.valid_until.data, form.letter_date.data)
        except services.DocumentError as exc:
            target = _accept_field(form, exc.code)
            if target is None:
                return _reviewed_already(doc, exc)
            target.errors = [error_text(exc)]
        else:
            flash(_("%(name)s accepted. The patient will see it in the portal.",
                    name=doc.original_name), "success")
            return _after_review(doc.patient)
    return _staff_page(doc.patient, {doc.public_id: {"accept": form}}, status=422)


@bp.route("/clinic/documents/<public_id>/reject", methods=["POST"])
@staff_required
def reject(public_id: str):
    doc = _document(public_id)
    if doc.status != "pending":
        return _reviewed_already(doc)
    form = forms.reject_form(doc, submitted=True)
    if form.validate_on_submit():
        try:
            services.reject(doc, me(), form.reason.data)
        except services.DocumentError as exc:
            if exc.code != "reason":
                return _reviewed_already(doc, exc)
            flash(error_text(exc), "error")
        else:
            flash(_("%(name)s was not accepted. The patient will see your reason in the "
                    "portal.", name=doc.original_name), "success")
        return _after_review(doc.patient)
    return _staff_page(doc.patient, {doc.public_id: {"reject": form}}, status=422)


@bp.route("/admin/documents/<public_id>/remove", methods=["POST"])
@admin_required
def remove(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    doc = _document(public_id)
    patient = doc.patient
    services.remove(doc, me())
    flash(_("%(name)s was removed from the record.", name=doc.original_name), "success")
    return _after_review(patient)
