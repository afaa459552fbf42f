from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import email_field


class InviteForm(FlaskForm):
    name = StringField(_l("Full name"),
                       validators=[DataRequired(_l("Enter the person's full name.")),
                                   Length(max=200)],
                       render_kw={"autocomplete": "off"})
    email = email_field()


class PatientSearchForm(FlaskForm):
    """A GET search (bookmarkable, nothing changes): no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=200)],
                    render_kw={"spellcheck": "false", "autocomplete": "off",
                               "autocapitalize": "none"})
    status = SelectField(_l("Status"), validators=[Optional()])
    practitioner = SelectField(_l("Practitioner"), validators=[Optional()])

    def set_choices(self, statuses: list[tuple[str, str]],
                    staff: list[tuple[str, str]]) -> None:
        self.status.choices = [("", _l("Any status"))] + statuses
        self.practitioner.choices = [("", _l("Any practitioner"))] + staff
