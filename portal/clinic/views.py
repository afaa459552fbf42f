"""The practitioner's home: worklist shell with invitations (the dashboard issue fills it)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import htmx
from portal.auth import services as auth_services
from portal.auth.views import error_text
from portal.clinic import bp, search
from portal.clinic.forms import InviteForm, PatientSearchForm
from portal.documents import services as documents
from portal.extensions import db
from portal.intake import services as intake
from portal.forms import EmptyForm
from portal.models import User
from portal.security import staff_required
from portal.treatment import services as treatment


def _worklist(form: InviteForm | None = None, status: int = 200):
    return htmx.render("clinic/worklist.html", "clinic/_invite_panel.html", status=status,
                       form=form or InviteForm(formdata=None),
                       pending=auth_services.pending_invitations("patient"),
                       resend_form=EmptyForm(),
                       clearance_queue=documents.clearances_to_review(),
                       clearance_count=documents.count_clearances_to_review(),
                       new_intakes=intake.new_intakes(),
                       new_intake_count=intake.count_new_intakes(),
                       **treatment.worklist())


@bp.route("/")
@staff_required
def worklist():
    return _worklist()


@bp.route("/invitations", methods=["POST"])
@staff_required
def invite_patient():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            auth_services.invite(current_user._get_current_object(), form.email.data,
                                 form.name.data, "patient")
        except auth_services.AccountError as exc:
            form.email.errors = [error_text(exc)]
        else:
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            if htmx.wants_fragment():
                response = _worklist()
                return response
            return htmx.hx_redirect(url_for("clinic.worklist"))
    return _worklist(form, status=422)


@bp.route("/invitations/<public_id>/resend", methods=["POST"])
@staff_required
def resend_invitation(public_id: str):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    user = db.session.scalar(select(User).where(User.public_id == public_id,
                                                User.role == "patient"))
    if user is None or user.has_password:
        abort(404)
    auth_services.resend_invitation(current_user._get_current_object(), user)
    flash(_("A new invitation was sent to %(email)s.", email=user.email), "success")
    return htmx.hx_redirect(url_for("clinic.worklist"))


@bp.route("/patients/")
@staff_required
def patients():
    """Search and list patients (SPEC 5.2): a GET form, so the address is the search."""
    form = PatientSearchForm(request.args)
    form.set_choices([(k, str(v)) for k, v in search.STATUS_LABELS.items()],
                     search.staff_choices(),
                     [(k, str(v)) for k, v in search.SORT_LABELS.items()])
    results, args, status = None, {}, 422
    if form.validate():
        filters = search.PatientFilters(q=(form.q.data or "").strip(),
                                        status=form.status.data or "",
                                        practitioner=form.practitioner.data or "",
                                        sort=form.sort.data or search.DEFAULT_SORT)
        # The address carries the search (bookmarks, back button), minus the defaults.
        args = {k: v for k, v in vars(filters).items()
                if v and not (k == "sort" and v == search.DEFAULT_SORT)}
        results = search.search_patients(filters, cursor=request.args.get("after"))
        status = 200
    return htmx.render("clinic/patients.html", "clinic/_patient_search.html", status=status,
                       form=form, results=results, search_args=args)
