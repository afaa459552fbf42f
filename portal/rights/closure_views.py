"""Closing one's account, from /me/record (SPEC 11.1; portal/rights/closure.py): a page that
says what happens, the password and "I understand" (both required: a shared phone is
common), then a last page, signed out, that says until when the record is kept.

A wrong password is said by its field (422) and changes nothing; so does a missing tick.
The form is a plain post (no htmx): the answer is a new page for a signed-out browser."""
from __future__ import annotations

from datetime import date

from flask import redirect, session, url_for
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, Length

from portal import htmx, security
from portal.rights import bp, closure, confirm
from portal.rights.retention import retention_ends_on
from portal.security import me, own_patient, patient_required

# In the (signed-out) browser session after closing: until when the record is kept, for the
# last page.
_CLOSED = "account_closed_until"


class CloseAccountForm(confirm.PasswordForm):
    understand = BooleanField(_l("I understand: my account will be closed and I will not be "
                                 "able to sign in again."),
                              validators=[DataRequired(_l("Tick this box to close your "
                                                          "account."))])
    password = PasswordField(_l("Your password"), id="close-password",
                             validators=[DataRequired(_l("Enter your password.")),
                                         Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


@bp.route("/me/record/close", methods=["GET", "POST"])
@patient_required
def close_account():
    patient = own_patient()
    form = CloseAccountForm()
    if form.is_submitted() and confirm.check_form(form, me(), "account_closure"):
        kept_until = closure.close(patient)
        security.fresh_session()  # this browser too: signed out now
        if kept_until is not None:
            session[_CLOSED] = kept_until.isoformat()
        return redirect(url_for("rights.account_closed"), code=303)
    return htmx.render("rights/close.html", status=422 if form.errors else 200, form=form,
                       kept_until=retention_ends_on(patient))


@bp.route("/me/record/closed")
def account_closed():
    """The last page, for the browser that closed the account (nothing to show elsewhere)."""
    kept = session.get(_CLOSED)
    try:
        kept_until = date.fromisoformat(kept) if isinstance(kept, str) else None
    except ValueError:
        kept_until = None
    if kept_until is None:
        return redirect(url_for("auth.login"))
    return htmx.render("rights/closed.html", kept_until=kept_until)
