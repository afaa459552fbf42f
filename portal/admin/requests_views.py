"""The requests register (SPEC 11.2): access and correction requests with their received,
due and answered dates; requests received outside the portal; access requests answered; a
due date extended once. The rules are in portal/rights/requests.py."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal import clock, htmx, streaming
from portal.admin import bp
from portal.admin.request_forms import (
    ExtendForm,
    ProvidedForm,
    RegisterFilterForm,
    RequestEntryForm,
)
from portal.csvexport import stream
from portal.formats import format_date, format_datetime
from portal.forms import db_int
from portal.models import Patient, RecordRequest
from portal.rights import requests as register
from portal.security import admin_required, me
from portal.treatment.times import clinic_date


def _filters() -> tuple[RegisterFilterForm, register.Filters, dict[str, str]]:
    """The filters in the address; a value that is not one of the choices is the default
    (a bookmark from an older version still opens the register)."""
    form = RegisterFilterForm(request.args)
    state = form.state.data if form.state.data in register.STATES else "open"
    kind = form.kind.data if form.kind.data in ("access", "correction") else ""
    form.state.data, form.kind.data = state, kind
    args = {k: v for k, v in (("state", state), ("kind", kind)) if v}
    return form, register.Filters(state, kind), args


@bp.route("/requests")
@admin_required
def requests_register():
    form, filters, args = _filters()
    page = db_int(request.args.get("page")) or 1
    rows, more = register.register_page(filters, page)
    now = clock.now()
    return htmx.render("admin/requests.html", "admin/_requests_table.html", form=form,
                       rows=[(req, register.is_overdue(req, now)) for req in rows],
                       page_no=page, more=more, args=args)


@bp.route("/requests.csv")
@admin_required
def requests_csv():
    _form, filters, _args = _filters()
    register.record_export(me(), filters)
    filename = f"requests-{clock.now():%Y%m%d-%H%M%S}.csv"
    return streaming.response(stream(register.CSV_HEADER, register.register_csv(filters)),
                              mimetype="text/csv",
                              headers={"Content-Disposition":
                                       f'attachment; filename="{filename}"'})


def _chosen_patient(form: RequestEntryForm) -> tuple[Patient | None, list[Patient]]:
    """The one patient the field names, or the candidates to choose from (by the field).
    A candidate chosen from an earlier list comes first; the field then shows their id."""
    if form.chosen.data:
        found = register.find_patients(form.chosen.data)
        if len(found) == 1:
            form.patient.data = found[0].public_id
            return found[0], []
    found = register.find_patients(form.patient.data or "")
    if len(found) == 1:
        return found[0], []
    if not found:
        form.patient.errors = [_("No patient found. Enter the patient's id (from their "
                                 "chart), e-mail address or a part of their name.")]
    else:
        form.patient.errors = [_("Several patients match: choose one below, or enter their "
                                 "id.")]
    return None, found


@bp.route("/requests/new", methods=["GET", "POST"])
@admin_required
def request_new():
    form = RequestEntryForm()
    candidates: list[Patient] = []
    if request.method == "GET":
        form = RequestEntryForm(formdata=None, data={"received_on": clinic_date(clock.now())})
        if request.args.get("patient"):
            form.patient.data = request.args["patient"][:200]
    elif form.validate_on_submit():
        patient, candidates = _chosen_patient(form)
        if patient is not None:
            req = register.enter_request(me(), patient, form.kind.data,
                                         form.received_on.data, form.detail.data or None)
            flash(_("The request is in the register. Answer due by %(date)s.",
                    date=format_datetime(req.due, "short")), "success")
            return htmx.hx_redirect(url_for("admin.request_detail", request_id=req.public_id))
    form.chosen.choices = [(p.public_id, f"{p.user.name} · {p.public_id}")
                           for p in candidates]
    return htmx.render("admin/request_new.html", status=422 if form.errors else 200,
                       form=form, candidates=candidates)


def _request(request_id: str) -> RecordRequest:
    req = register.request_by_id(request_id)
    if req is None:
        abort(404)
    return req


def _detail(req: RecordRequest, provided_form=None, extend_form=None, status: int = 200):
    return htmx.render("admin/request.html", status=status, req=req,
                       overdue=register.is_overdue(req),
                       extendable=register.can_extend(req),
                       provided_form=provided_form or ProvidedForm(
                           formdata=None, data={"provided_on": clinic_date(clock.now())}),
                       extend_form=extend_form or ExtendForm(formdata=None))


@bp.route("/requests/<request_id>")
@admin_required
def request_detail(request_id: str):
    return _detail(_request(request_id))


@bp.route("/requests/<request_id>/provided", methods=["POST"])
@admin_required
def request_provided(request_id: str):
    req = _request(request_id)
    if req.kind != "access":
        abort(404)
    form = ProvidedForm()
    if not form.validate_on_submit():
        return _detail(req, provided_form=form, status=422)
    try:
        register.mark_provided(me(), req, form.provided_on.data)
    except register.BeforeReceipt:
        form.provided_on.errors = [*form.provided_on.errors, _(
            "The record cannot have been given before the request was received, on "
            "%(date)s.", date=format_date(clinic_date(req.received_at), "long"))]
        return _detail(req, provided_form=form, status=422)
    except register.AlreadyDone:
        flash(_("This request was already answered; nothing was changed."), "warning")
    else:
        flash(_("The request is marked as answered."), "success")
    return htmx.hx_redirect(url_for("admin.request_detail", request_id=req.public_id))


@bp.route("/requests/<request_id>/extend", methods=["POST"])
@admin_required
def request_extend(request_id: str):
    req = _request(request_id)
    form = ExtendForm()
    if not form.validate_on_submit():
        return _detail(req, extend_form=form, status=422)
    try:
        emailed = register.extend(me(), req, form.reason.data)
    except register.TooLate:
        form.reason.errors = [*form.reason.errors, _(
            "The 30 days to answer ended on %(date)s: a due date is extended before they run "
            "out (PHIPA s. 54(3)). Answer the request as soon as you can.",
            date=format_datetime(req.due_at, "short"))]
        return _detail(req, extend_form=form, status=422)
    except register.AlreadyDone:
        flash(_("This request was already extended or answered; a due date is extended "
                "once. Nothing was changed."), "warning")
    else:
        if emailed:
            flash(_("The due date is now %(date)s. The patient is told by e-mail.",
                    date=format_datetime(req.due, "short")), "success")
        else:
            flash(_("The due date is now %(date)s. No e-mail could be sent to the patient "
                    "(no usable address, or the account is inactive or closed): send them "
                    "written notice of the extension and its reason another way, for "
                    "example by post.", date=format_datetime(req.due, "short")), "warning")
    return htmx.hx_redirect(url_for("admin.request_detail", request_id=req.public_id))
