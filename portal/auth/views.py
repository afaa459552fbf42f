"""Sign-in, sign-out, invitations, resets, second factor and the account page."""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from portal import audit, clock, htmx, security
from portal.auth import bp, second_factor, signin
from portal.auth import services as svc
from portal.auth.errors import error_text
from portal.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmPasswordForm,
    LoginForm,
    RegisterForm,
    ResetRequestForm,
    SetPasswordForm,
)
from portal.clinic_settings import current_settings
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.i18n import current_locale, normalise
from portal.models import User, UserSession
from portal.security import me

PENDING_TTL_SECONDS = 600



def _account_key() -> str:
    """Rate-limit key for the account being tried (SPEC 1.6), whatever the IP."""
    return "account:" + svc.normalise_email(request.form.get("email", ""))[:254]


def _login_ip_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_IP"]


def _login_account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


# --- pending second factor ------------------------------------------------------------

def _set_pending(user: User, next_url: str | None, enrol: bool) -> None:
    security.fresh_session()  # nothing of the anonymous session survives sign-in
    session["mfa"] = {"uid": user.public_id, "at": clock.now().timestamp(),
                      "next": next_url, "enrol": enrol}


def _pending_user() -> tuple[User, dict] | None:
    """The account waiting for its second factor and what the first step kept, or None."""
    pending = session.get("mfa")
    if not pending or clock.now().timestamp() - pending.get("at", 0) > PENDING_TTL_SECONDS:
        session.pop("mfa", None)
        return None
    user = db.session.scalar(select(User).where(User.public_id == pending["uid"]))
    if user is None or not user.active:
        session.pop("mfa", None)
        return None
    return user, pending


def _finish_sign_in(user: User, method: str, next_url: str | None):
    security.start_session(user)
    signin.signed_in(user, method)
    return htmx.hx_redirect(security.safe_next(next_url) or security.home_for(user))


# --- sign-in and sign-out -------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
@limiter.limit(_login_account_limit, key_func=_account_key, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(security.home_for(current_user))
    form = LoginForm()
    next_url = security.safe_next(request.args.get("next"))
    error = None
    if form.validate_on_submit():
        try:
            result = signin.check_password(form.email.data, form.password.data)
        except svc.AccountError as exc:
            error = error_text(exc)
        else:
            if result.needs_mfa or result.must_enrol_mfa:
                _set_pending(result.user, next_url, enrol=result.must_enrol_mfa)
                target = "auth.mfa_setup" if result.must_enrol_mfa else "auth.mfa"
                return htmx.hx_redirect(url_for(target))
            return _finish_sign_in(result.user, "password", next_url)
    expired = session.pop("expired", None) if request.method == "GET" else None
    if expired == "idle":
        flash(_("You were signed out after a period of inactivity. Please sign in again."),
              "warning")
    elif expired:
        flash(_("For your security, sessions last at most 12 hours. Please sign in again."),
              "warning")
    status = 422 if (form.errors or error) else 200
    return htmx.render("auth/login.html", "auth/_login_form.html", status=status,
                       form=form, error=error, next_url=next_url,
                       self_registration=current_settings().self_registration)


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        user = me()
        security.end_session()
        signin.signed_out(user)
        flash(_("You have signed out."), "success")
    else:
        security.end_session()
        db.session.commit()
    # A page that asked to sign out first (an invitation opened while signed in) is next.
    return htmx.hx_redirect(security.safe_next(request.form.get("next"))
                            or url_for("auth.login"))


@bp.route("/mfa", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def mfa():
    found = _pending_user()
    if found is None:
        flash(_("Please sign in again."), "warning")
        return htmx.hx_redirect(url_for("auth.login"))
    user, pending = found
    if pending.get("enrol"):
        return redirect(url_for("auth.mfa_setup"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            method = second_factor.verify_second_factor(user, form.code.data)
        except svc.AccountError as exc:
            error = error_text(exc)
            db.session.commit()
        else:
            session.pop("mfa", None)
            if method == "recovery_code":
                flash(ngettext("You used a recovery code. You have %(num)d left; "
                               "you can make new ones on your account page.",
                               "You used a recovery code. You have %(num)d left; "
                               "you can make new ones on your account page.",
                               second_factor.remaining_recovery_codes(user)), "warning")
            return _finish_sign_in(user, method, pending.get("next"))
    status = 422 if (form.errors or error) else 200
    return htmx.render("auth/mfa.html", "auth/_mfa_form.html", status=status, form=form,
                       error=error)


@bp.route("/mfa/setup", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def mfa_setup():
    """Staff must set up a second factor at first sign-in; patients may from their account."""
    if current_user.is_authenticated:
        user, pending = me(), None
        if user.mfa_enabled:
            return redirect(url_for("auth.account"))
    else:
        found = _pending_user()
        if found is None:
            flash(_("Please sign in again."), "warning")
            return htmx.hx_redirect(url_for("auth.login"))
        user, pending = found
        if not pending.get("enrol"):
            return redirect(url_for("auth.mfa"))
    form = CodeForm()
    # Reloading the page keeps the secret the person may already have scanned.
    secret = second_factor.enrolment_secret(user) or second_factor.start_enrolment(user)
    error = None
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(user, form.code.data)
        except svc.AccountError as exc:
            error = error_text(exc)
        else:
            if pending is not None:
                session.pop("mfa", None)
                security.start_session(user)
                signin.signed_in(user, "totp_enrolment")
                next_url = security.safe_next(pending.get("next")) or security.home_for(user)
            else:
                next_url = url_for("auth.account")
            return htmx.render("auth/recovery_codes.html", codes=codes, next_url=next_url,
                               first_time=True)
    uri = second_factor.provisioning_uri(user, secret)
    qr = second_factor.qr_svg(uri, _("QR code for your authenticator app"))
    status = 422 if (form.errors or error) else 200
    return htmx.render("auth/mfa_setup.html", status=status, form=form, error=error,
                       secret=secret, qr=qr, forced=pending is not None)


# --- invitations, registration, confirmation ------------------------------------------

@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    row = svc.find_token(token, "invite")
    if row is None:
        return htmx.render("auth/link_invalid.html", status=404, kind="invite")
    if current_user.is_authenticated:
        # Opening a link signs no one out: say who is signed in and offer to sign out
        # first (a POST), which comes back here.
        return htmx.render("auth/invite_signed_in.html",
                           status=200 if request.method == "GET" else 409,
                           form=EmptyForm(), invited=row.user, home=security.home_for(me()))
    form = SetPasswordForm(person=row.user)
    if form.validate_on_submit():
        user = svc.accept_invitation(row, form.password.data)
        # The language chosen with the switcher in this browser wins over the one the
        # invitation was sent in; with neither, the page's.
        chosen = normalise(session.get("lang"))
        if chosen or user.locale is None:
            svc.set_locale(user, chosen or current_locale())
        if user.is_staff or user.mfa_enabled:
            _set_pending(user, None, enrol=not user.mfa_enabled)
            flash(_("Your password is set. One more step: set up two-step sign-in."), "success")
            return htmx.hx_redirect(url_for("auth.mfa_setup"))
        flash(_("Welcome! Your account is ready."), "success")
        return _finish_sign_in(user, "invitation", None)
    status = 422 if form.errors else 200
    return htmx.render("auth/accept_invite.html", status=status, form=form, invited=row.user)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
@limiter.limit(_login_account_limit, key_func=_account_key, methods=["POST"])
def register():
    if not current_settings().self_registration:
        abort(404)
    form = RegisterForm()
    if form.validate_on_submit():
        svc.register_patient(form.name.data, form.email.data, form.password.data, current_locale())
        return htmx.render("auth/check_email.html", kind="register", email=form.email.data)
    status = 422 if form.errors else 200
    return htmx.render("auth/register.html", status=status, form=form)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    row = svc.find_token(token, "confirm")
    if row is None:
        return htmx.render("auth/link_invalid.html", status=404, kind="confirm")
    form = EmptyForm()
    if form.validate_on_submit():
        svc.confirm_email(row)
        flash(_("Thank you, your e-mail address is confirmed. You can sign in now."), "success")
        return htmx.hx_redirect(url_for("auth.login"))
    return htmx.render("auth/confirm_email.html", form=form)


# --- password reset -------------------------------------------------------------------

@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
@limiter.limit(_login_account_limit, key_func=_account_key, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        svc.request_reset(form.email.data, current_locale())
        return htmx.render("auth/check_email.html", kind="reset", email=form.email.data)
    status = 422 if form.errors else 200
    return htmx.render("auth/reset_request.html", status=status, form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    row = svc.find_token(token, "reset")
    if row is None:
        return htmx.render("auth/link_invalid.html", status=404, kind="reset")
    form = SetPasswordForm(person=row.user)
    if form.validate_on_submit():
        svc.reset_password(row, form.password.data)
        if current_user.is_authenticated:
            security.end_session()
        flash(_("Your password has been changed and you have been signed out everywhere. "
                "Please sign in with your new password."), "success")
        return htmx.hx_redirect(url_for("auth.login"))
    status = 422 if form.errors else 200
    return htmx.render("auth/reset_password.html", status=status, form=form)


# --- my account -----------------------------------------------------------------------

def _account_page(status: int = 200, **forms):
    user = me()
    sessions = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id,
                                  UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc()).limit(20)).all()
    ctx = {
        "password_form": forms.get("password_form") or ChangePasswordForm(formdata=None),
        "confirm_form": forms.get("confirm_form") or ConfirmPasswordForm(formdata=None),
        "empty_form": EmptyForm(),
        "sessions": sessions,
        "current_session": g.get("user_session"),
        "recovery_left": second_factor.remaining_recovery_codes(user) if user.mfa_enabled else 0,
        "error": forms.get("error"),
    }
    return htmx.render("auth/account.html", status=status, **ctx)


@bp.route("/account", methods=["GET"])
@login_required
def account():
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
@limiter.limit(_login_ip_limit)
def account_password():
    form = ChangePasswordForm(person=me())
    if form.validate_on_submit():
        user = me()
        try:
            svc.change_password(user, form.current.data, form.password.data)
        except svc.AccountError as exc:
            form.current.errors = [error_text(exc)]
            db.session.rollback()
        else:
            # Every session ended, this browser gets a new one.
            security.start_session(user)
            db.session.commit()
            flash(_("Your password has been changed. Any other devices have been signed out."),
                  "success")
            return htmx.hx_redirect(url_for("auth.account"))
    return _account_page(status=422, password_form=form)


@bp.route("/account/sessions/revoke", methods=["POST"])
@login_required
def account_revoke_sessions():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    user = me()
    count = security.revoke_all_sessions(user, keep_current=True)
    audit.write("session.revoked_others", actor=user, subject=user.email, detail={"count": count})
    db.session.commit()
    flash(_("You have been signed out on all other devices."), "success")
    return htmx.hx_redirect(url_for("auth.account"))


@bp.route("/account/mfa/disable", methods=["POST"])
@login_required
@limiter.limit(_login_ip_limit)
def account_mfa_disable():
    form = ConfirmPasswordForm()
    user = me()
    if form.validate_on_submit():
        if user.is_staff:
            abort(404)  # staff cannot turn it off; the page offers no such button
        try:
            signin.check_current_password(user, form.current.data, "mfa_disable")
        except svc.AccountError as exc:
            form.current.errors = [error_text(exc)]
        else:
            second_factor.disable_mfa(user)
            flash(_("Two-step sign-in is off."), "success")
            return htmx.hx_redirect(url_for("auth.account"))
    return _account_page(status=422, confirm_form=form)


@bp.route("/account/recovery-codes", methods=["POST"])
@login_required
@limiter.limit(_login_ip_limit)
def account_recovery_codes():
    form = ConfirmPasswordForm()
    user = me()
    if not user.mfa_enabled:
        abort(404)
    if form.validate_on_submit():
        try:
            signin.check_current_password(user, form.current.data, "recovery_codes")
        except svc.AccountError as exc:
            form.current.errors = [error_text(exc)]
        else:
            codes = second_factor.regenerate_recovery_codes(user)
            return htmx.render("auth/recovery_codes.html", codes=codes,
                               next_url=url_for("auth.account"), first_time=False)
    return _account_page(status=422, confirm_form=form)
