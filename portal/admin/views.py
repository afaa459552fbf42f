"""Staff, invitations, clinic settings (SPEC 1.1, 10 /admin/), undelivered e-mail (SPEC 6.3)
and the audit log (SPEC 7.1)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from portal import audit as audit_log
from portal import clock, htmx, streaming
from portal.admin import bp, logo, services
from portal.admin.forms import AuditSearchForm, ResendMailForm, SettingsForm, StaffInviteForm
from portal.auth import services as auth_services
from portal.auth.errors import error_text
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.forms import MAX_DB_INT, EmptyForm, db_int, read_get_form
from portal.models import User
from portal.rights import disposal as disposals
from portal.rights import incidents
from portal.rights import requests as register
from portal.security import admin_required, me


def _home(invite_form=None, settings_form=None, status: int = 200):
    settings = current_settings()
    if settings_form is None:
        settings_form = SettingsForm(formdata=None, obj=settings)
    return htmx.render("admin/home.html", status=status,
                       invite_form=invite_form or StaffInviteForm(formdata=None),
                       settings_form=settings_form, staff=services.staff(),
                       pending=auth_services.pending_invitations("staff"),
                       action_form=EmptyForm(),
                       incidents_outstanding=incidents.outstanding_count(),
                       requests_overdue=register.overdue_count(),
                       disposals_waiting=disposals.waiting_count(),
                       **_mail_context())


@bp.route("/")
@admin_required
def home():
    return _home()


@bp.route("/staff/invite", methods=["POST"])
@admin_required
def invite_staff():
    form = StaffInviteForm()
    if form.validate_on_submit():
        try:
            auth_services.invite(me(), form.email.data, form.name.data, form.role.data,
                                 locale=form.locale.data)
        except auth_services.AccountError as exc:
            form.email.errors = [error_text(exc)]
        else:
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            return htmx.hx_redirect(url_for("admin.home"))
    return _home(invite_form=form, status=422)


def _staff_user(public_id: str) -> User:
    user = db.session.scalar(select(User).where(User.public_id == public_id,
                                                User.role.in_(("practitioner", "admin"))))
    if user is None:
        abort(404)
    return user


@bp.route("/staff/<public_id>/resend", methods=["POST"])
@admin_required
def resend_staff_invitation(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _staff_user(public_id)
    if user.has_password:
        abort(404)
    auth_services.resend_invitation(me(), user)
    flash(_("A new invitation was sent to %(email)s.", email=user.email), "success")
    return htmx.hx_redirect(url_for("admin.home"))


@bp.route("/staff/<public_id>/deactivate", methods=["POST"])
@admin_required
def deactivate_staff(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _staff_user(public_id)
    try:
        auth_services.deactivate(me(), user)
    except auth_services.AccountError as exc:
        flash(error_text(exc), "error")
    else:
        flash(_("%(name)s can no longer sign in.", name=user.name), "success")
    return htmx.hx_redirect(url_for("admin.home"))


@bp.route("/staff/<public_id>/reactivate", methods=["POST"])
@admin_required
def reactivate_staff(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _staff_user(public_id)
    auth_services.reactivate(me(), user)
    flash(_("%(name)s can sign in again.", name=user.name), "success")
    return htmx.hx_redirect(url_for("admin.home"))


# What the admin reads beside the logo field when a file is refused (portal.admin.logo).
LOGO_REFUSALS = {
    "too_big": _l("The logo must be at most 512 KB. Save it smaller and try again."),
    "not_image": _l("The logo must be a PNG or JPEG image."),
    "undecodable": _l("This file is not a PNG or JPEG image that can be opened. Save it again "
                      "as PNG or JPEG and try again."),
    "too_many_pixels": _l("This image is too large (more than 16 megapixels). Save a smaller "
                          "version and try again."),
}


def _uploaded_logo(form: SettingsForm) -> tuple[logo.Logo | None, bool]:
    """The new logo prepared from the upload (None when no file was chosen), and whether
    the upload is acceptable (if not, the field says why)."""
    upload = form.logo.data
    if not upload or not upload.filename:
        return None, True
    try:
        return logo.prepare(upload.stream), True
    except logo.LogoRefused as exc:
        form.logo.errors = [LOGO_REFUSALS[exc.code]]
        return None, False


@bp.route("/settings", methods=["POST"])
@admin_required
def settings():
    form = SettingsForm()
    if form.validate_on_submit():
        new_logo, ok = _uploaded_logo(form)
        if ok:
            services.update_settings(me(), services.SettingsChange(
                name=form.name.data, timezone=form.timezone.data,
                self_registration=form.self_registration.data, phone=form.phone.data,
                address=form.address.data, locale=form.locale.data, logo=new_logo,
                retention_years=form.retention_years.data,
                follow_up_first_weeks=form.follow_up_first_weeks.data,
                follow_up_second_weeks=form.follow_up_second_weeks.data))
            flash(_("Clinic settings saved."), "success")
            return htmx.hx_redirect(url_for("admin.home"))
    return _home(settings_form=form, status=422)


@bp.route("/settings/logo/remove", methods=["POST"])
@admin_required
def remove_logo():
    if not EmptyForm().validate_on_submit():
        abort(400)
    if services.remove_logo(me()):
        flash(_("The logo was removed."), "success")
    return htmx.hx_redirect(url_for("admin.home"))


# --- undelivered e-mail (SPEC 6.3) ---------------------------------------------------

# The outbox's kinds (templates/email/<kind>.*) as an admin reads them; a kind missing here
# is shown by its code.
MAIL_KINDS = {
    "invitation": _l("Invitation"),
    "password_reset": _l("Password reset"),
    "confirm_email": _l("E-mail address confirmation"),
    "register_existing": _l("Sign-up with an address that has an account"),
    "rating_due": _l("Session rating due"),
    "rating_reminder": _l("Session rating reminder"),
    "document_news": _l("News about a document"),
    "intake_submitted": _l("Intake submitted (to staff)"),
    "safety_alert": _l("Safety alert (to staff)"),
    "staff_digest": _l("Daily staff digest"),
    "request_answered": _l("Answer to a request about the record"),
    "request_extended": _l("More time for a request about the record"),
}

def _mail_context() -> dict:
    return {"undelivered": services.undelivered_mail(), "mail_kinds": MAIL_KINDS,
            "resend_form": ResendMailForm()}


def _after_resend():
    """The section again for htmx (the flash rides along out of band); otherwise back to
    the page."""
    if htmx.wants_fragment():
        return htmx.render("admin/home.html", "admin/_undelivered_mail.html",
                           **_mail_context())
    return htmx.hx_redirect(url_for("admin.home"))


@bp.route(f"/mail/<int(max={MAX_DB_INT}):message_id>/resend", methods=["POST"])
@admin_required
def resend_mail(message_id: int):
    if not ResendMailForm().validate_on_submit():
        abort(400)
    message = services.outbox_message(message_id)
    if message is None:
        abort(404)
    to_addr = message.to_addr
    if services.resend_mail(me(), message):
        flash(_("The e-mail to %(email)s will be sent again.", email=to_addr), "success")
    else:
        flash(_("The e-mail to %(email)s is not waiting any more: it was already sent again.",
                email=to_addr), "warning")
    return _after_resend()


@bp.route("/mail/resend", methods=["POST"])
@admin_required
def resend_all_mail():
    if not ResendMailForm().validate_on_submit():
        abort(400)
    count = services.resend_all_mail(me())
    if count:
        flash(ngettext("%(num)d e-mail will be sent again.", "%(num)d e-mails will be sent again.",
                       count), "success")
    else:
        flash(_("No e-mail is waiting to be sent again."), "warning")
    return _after_resend()


# --- the audit log (SPEC 7.1) -----------------------------------------------------------

_SEARCH_FIELDS = ("patient", "actor", "action", "date_from", "date_to")


def _audit_search() -> tuple[AuditSearchForm, audit_log.AuditFilters | None, dict[str, str]]:
    """The search in the address (GET): its form, its filters (None when invalid) and the
    query arguments that repeat it in links."""
    form = AuditSearchForm(request.args)
    form.set_actions(audit_log.audit_actions())
    args, valid = read_get_form(form, _SEARCH_FIELDS)
    if not valid:
        return form, None, args
    return form, audit_log.AuditFilters(
        patient=(form.patient.data or "").strip(), actor=(form.actor.data or "").strip(),
        action=form.action.data or "", date_from=form.date_from.data,
        date_to=form.date_to.data), args


@bp.route("/audit")
@admin_required
def audit():
    form, filters, args = _audit_search()
    results = None
    if filters is not None:
        results = audit_log.search_audit(filters,
                                        before=db_int(request.args.get("before")),
                                        after=db_int(request.args.get("after")))
    return htmx.render("admin/audit.html", "admin/_audit_search.html",
                       status=200 if filters is not None else 422, form=form, results=results,
                       search_args=args, verify_form=EmptyForm())


@bp.route("/audit.csv")
@admin_required
def audit_csv():
    _form, filters, _args = _audit_search()
    if filters is None:
        abort(400)
    services.record_audit_export(me(), filters)
    filename = f"audit-{clock.now():%Y%m%d-%H%M%S}.csv"
    return streaming.response(audit_log.audit_csv(filters), mimetype="text/csv",
                              headers={"Content-Disposition":
                                       f'attachment; filename="{filename}"'})


@bp.route("/audit/verify", methods=["POST"])
@admin_required
def verify_audit():
    if not EmptyForm().validate_on_submit():
        abort(400)
    report = services.verify_audit_chain(me())
    if report.ok:
        flash(_("The audit log is intact: %(n)d events checked.", n=report.checked), "success")
    else:
        flash(_("The audit log has been altered: event %(id)d does not match the chain "
                "(%(n)d events before it checked and intact).",
                id=report.first_bad_id, n=report.checked), "error")
    return htmx.hx_redirect(url_for("admin.audit"))
