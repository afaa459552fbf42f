"""Staff, invitations and clinic settings (SPEC 1.1, 10 /admin/)."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import htmx
from portal.admin import bp
from portal.admin import services
from portal.admin.forms import SettingsForm, StaffInviteForm
from portal.auth import services as auth_services
from portal.auth.views import error_text
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import User
from portal.security import admin_required


def _home(invite_form=None, settings_form=None, status: int = 200):
    settings = current_settings()
    if settings_form is None:
        settings_form = SettingsForm(formdata=None, obj=settings)
    return htmx.render("admin/home.html", status=status,
                       invite_form=invite_form or StaffInviteForm(formdata=None),
                       settings_form=settings_form, staff=services.staff(),
                       pending=auth_services.pending_invitations("staff"),
                       action_form=EmptyForm())


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
            auth_services.invite(current_user._get_current_object(), form.email.data,
                                 form.name.data, form.role.data)
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
    auth_services.resend_invitation(current_user._get_current_object(), user)
    flash(_("A new invitation was sent to %(email)s.", email=user.email), "success")
    return htmx.hx_redirect(url_for("admin.home"))


@bp.route("/staff/<public_id>/deactivate", methods=["POST"])
@admin_required
def deactivate_staff(public_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _staff_user(public_id)
    try:
        auth_services.deactivate(current_user._get_current_object(), user)
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
    auth_services.reactivate(current_user._get_current_object(), user)
    flash(_("%(name)s can sign in again.", name=user.name), "success")
    return htmx.hx_redirect(url_for("admin.home"))


@bp.route("/settings", methods=["POST"])
@admin_required
def settings():
    form = SettingsForm()
    if form.validate_on_submit():
        services.update_settings(current_user._get_current_object(), form.name.data,
                                 form.timezone.data, form.self_registration.data)
        flash(_("Clinic settings saved."), "success")
        return htmx.hx_redirect(url_for("admin.home"))
    return _home(settings_form=form, status=422)
