from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from portal.clinic_settings import current_settings
from portal.forms import email_field, new_password_field


def _clinic_language() -> str:
    return current_settings().locale


class InviteForm(FlaskForm):
    """An invitation by e-mail: a practitioner's to a patient, an admin's to staff."""
    name = StringField(_l("Full name"),
                       validators=[DataRequired(_l("Enter the person's full name.")),
                                   Length(max=200)],
                       render_kw={"autocomplete": "off"})
    email = email_field()
    # The invited person's language, for the invitation, every later e-mail and the pages;
    # the clinic's by default. Each language named in itself.
    locale = SelectField(_l("Language"), default=_clinic_language, id="invite-locale",
                         choices=[SelectChoice("en", "English"),
                                  SelectChoice("fr_CA", "Français")])


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(_l("Enter your password.")),
                                         Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class CodeForm(FlaskForm):
    code = StringField(_l("Code"),
                       validators=[DataRequired(_l("Enter the code.")), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "spellcheck": "false", "autocapitalize": "none",
                                  "class": "input--code"})


class ResetRequestForm(FlaskForm):
    email = email_field()


class SetPasswordForm(FlaskForm):
    """A new password. ``person`` is the account it is for, when known: its name and
    e-mail address make a password easier to guess (NewPasswordCheck)."""
    password = new_password_field()
    confirm = PasswordField(_l("Type the password again"),
                            validators=[DataRequired(_l("Type the password again.")),
                                        EqualTo("password",
                                                _l("The two passwords are not the same."))],
                            render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person = person


class RegisterForm(SetPasswordForm):
    name = StringField(_l("Full name"),
                       validators=[DataRequired(_l("Enter your full name.")), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = email_field()


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(_l("Enter your current password.")),
                                        Length(max=256)],
                            render_kw={"autocomplete": "current-password"})


class ConfirmPasswordForm(FlaskForm):
    """Asks for the password again before a sensitive change. Its field has an id of its
    own: the account page shows this form beside the password change (ids used once)."""
    current = PasswordField(_l("Current password"), id="confirm-current",
                            validators=[DataRequired(_l("Enter your current password.")),
                                        Length(max=256)],
                            render_kw={"autocomplete": "current-password"})

