"""The patient list's search form (SPEC 5.2)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional


class PatientSearchForm(FlaskForm):
    """A GET search (bookmarkable, nothing changes): no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=200)],
                    render_kw={"spellcheck": "false", "autocomplete": "off",
                               "autocapitalize": "none"})
    status = SelectField(_l("Status"), validators=[Optional()])
    practitioner = SelectField(_l("Practitioner"), validators=[Optional()])
    sort = SelectField(_l("Sort by"), validators=[Optional()])

    def set_choices(self, statuses: list[tuple[str, str]],
                    staff: list[tuple[str, str]], sorts: list[tuple[str, str]]) -> None:
        self.status.choices = [("", _l("Any status")), *statuses]
        self.practitioner.choices = [("", _l("Any practitioner")), *staff]
        self.sort.choices = sorts
