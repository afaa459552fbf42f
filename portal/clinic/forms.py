from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.forms import email_field


class InviteForm(FlaskForm):
    name = StringField(_l("Full name"),
                       validators=[DataRequired(_l("Enter the person's full name.")),
                                   Length(max=200)],
                       render_kw={"autocomplete": "off"})
    email = email_field()
