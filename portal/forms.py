"""Form pieces shared by every feature."""
from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from portal import passwords

# The largest id or cursor value the database's INTEGER holds: anything beyond is not one of
# ours (and PostgreSQL would refuse to compare it).
MAX_DB_INT = 2**31 - 1

# Dates outside these are typing mistakes (and the far ends of the calendar cannot be turned
# into UTC instants).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def db_int(value: str | None) -> int | None:
    """A non-negative integer from the address that the database can hold, or None."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_DB_INT else None


def plausible_date(_form, field) -> None:
    if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Enter a date between %(first)s and %(last)s.",
                                 first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))


class EmptyForm(FlaskForm):
    """For button-only POSTs: nothing but the CSRF token."""


def email_field(label=None, **kwargs) -> StringField:
    return StringField(label or _l("E-mail address"),
                       validators=[DataRequired(_l("Enter your e-mail address.")),
                                   Length(max=254),
                                   Email(_l("Enter an e-mail address like name@example.com."),
                                         check_deliverability=False)],
                       filters=[lambda v: v.strip().lower() if v else v],
                       render_kw={"autocomplete": "email", "type": "email",
                                  "spellcheck": "false", "autocapitalize": "none"},
                       **kwargs)


class NewPasswordCheck:
    """12+ characters, not a common password (SPEC 1.3)."""

    MESSAGES = {
        "too_short": _l("Use at least %(n)d characters. "
                        "A short sentence you will remember works well.",
                        n=passwords.MIN_LENGTH),
        "too_long": _l("Use at most %(n)d characters.", n=passwords.MAX_LENGTH),
        "common": _l("This password is too common and easy to guess. Please choose another."),
    }

    def __call__(self, form, field):
        reason = passwords.problem(field.data or "")
        if reason:
            raise ValidationError(self.MESSAGES[reason])


def new_password_field(label=None) -> PasswordField:
    return PasswordField(label or _l("New password"),
                         validators=[DataRequired(_l("Enter a password.")), NewPasswordCheck()],
                         render_kw={"autocomplete": "new-password"})


def read_get_form(form: FlaskForm, fields: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """A search or filter form sent by GET (bookmarkable, works without JavaScript): the
    query arguments it was given, to repeat in links, and whether they are valid. No
    arguments is the plain page, valid without a check."""
    args = {name: request.args[name] for name in fields if request.args.get(name)}
    return args, not args or form.validate()
