"""The retention schedule's forms (SPEC 11.2): approving the disposal of listed records, and
a second admin's confirmation. Which records: the checkboxes of the page's rows (their
disposal's public id), every one ticked when the page opens."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from portal.admin.forms import WholeNumberField


class _Records(FlaskForm):
    # The page draws one checkbox a row; which ids exist is the service's to check.
    records = SelectMultipleField(_l("Records"), validate_choice=False)

    def validate_records(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Tick at least one record."))


class ApproveDisposalForm(_Records):
    method = RadioField(
        _l("How to confirm"),
        choices=[SelectChoice("typed", _l("Dispose of them now: I type how many records")),
                 SelectChoice("second", _l("Ask a second administrator to confirm"))],
        validators=[InputRequired(_l("Choose how to confirm the disposal."))],
        default="typed", id="disposal-method")
    count = WholeNumberField(_l("Number of records to dispose of"), id="disposal-count",
                             render_kw={"inputmode": "numeric", "autocomplete": "off"})

    def validate_count(self, field) -> None:
        if self.method.data != "typed":
            return
        if field.data is None and not field.errors:
            raise ValidationError(_l("Type the number of records ticked, to confirm."))
        if field.data is not None and field.data != len(self.records.data or []):
            raise ValidationError(_l("You ticked %(num)d records: type %(num)d to dispose "
                                     "of them.", num=len(self.records.data or [])))


class ConfirmDisposalForm(_Records):
    records = SelectMultipleField(_l("Records"), validate_choice=False,
                                  id="confirm-records")
