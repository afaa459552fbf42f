"""The account's password, typed again before a right is used (SPEC 11.1: each right "is
audited and needs the account's password"). A shared or borrowed phone that is signed in is
common; the password keeps whoever holds it from reading or downloading the record.

The password is checked as the account page checks it (portal.auth.signin.
check_current_password: a wrong one counts towards the sign-in pause). After a right one the
patient may use the rights for CONFIRMED_FOR without typing it again: the moment is kept in
the server-side session (portal.session_store), for this user only, so signing out or in
again asks anew.

Two ways to use it:

* ``password_confirmed(purpose, title)``, a decorator for a GET view (which must also accept
  POST): until the password is confirmed the view's URL shows a small form asking for it; the
  form posts to the same URL and, right, comes back to it with 303 See Other; wrong, it shows
  the message by the field (422). A download behind it starts once the password is right.
* ``check(user, password, purpose)`` and ``confirmed(user)``, for a form of one's own that
  has a password field (``PasswordForm.password``'s label, hint and messages)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import redirect, request, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from portal import clock, htmx
from portal.auth import signin
from portal.extensions import db
from portal.models import User
from portal.security import me

CONFIRMED_FOR = timedelta(minutes=10)
_KEY = "rights_confirmed"


class PasswordForm(FlaskForm):
    password = PasswordField(_l("Your password"), id="confirm-password",
                             validators=[DataRequired(_l("Enter your password.")),
                                         Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


def _confirmed_at(user: User) -> datetime | None:
    kept = session.get(_KEY)
    if not isinstance(kept, dict) or kept.get("uid") != user.public_id:
        return None
    try:
        return datetime.fromtimestamp(float(kept["at"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def confirmed_until(user: User) -> datetime | None:
    """Until when the password typed in this session still counts, if it does."""
    at = _confirmed_at(user)
    if at is None or not at <= clock.now() < at + CONFIRMED_FOR:
        return None
    return at + CONFIRMED_FOR


def confirmed(user: User) -> bool:
    """The password was typed right in this session less than CONFIRMED_FOR ago."""
    return confirmed_until(user) is not None


def check(user: User, password: str, purpose: str) -> None:
    """Check the password; a right one is remembered for CONFIRMED_FOR. Raises AccountError
    ('wrong_current' | 'locked_current'); ``purpose`` names the right for the audit log."""
    signin.check_current_password(user, password, purpose)
    _remember(user)


def _remember(user: User) -> None:
    db.session.commit()  # check_current_password leaves its reset count to the caller
    session[_KEY] = {"uid": user.public_id, "at": clock.now().timestamp()}


def check_form(form: PasswordForm, user: User, purpose: str) -> bool:
    """Validate ``form`` and check its password (a right one is remembered, as ``check``
    does); the message goes by the field."""
    if not form.validate() or not signin.check_field(user, form.password, purpose):
        return False
    _remember(user)
    return True


def password_confirmed(purpose: str, title, explanation=None):
    """Ask for the password (see the module's docstring) before the view runs. ``title`` and
    ``explanation`` (lazy strings) say on the form what the password opens."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = me()
            if request.method == "GET" and confirmed(user):
                return view(*args, **kwargs)
            form = PasswordForm()
            if request.method == "POST" and check_form(form, user, purpose):
                return redirect(request.path, code=303)
            return htmx.render("rights/confirm.html", status=422 if form.errors else 200,
                               form=form, title=title, explanation=explanation,
                               action=request.path)
        return wrapped
    return decorator
