"""The patient chart's forms (SPEC 5.3). Discharge takes a coded reason, which the audit log
keeps (no free text: the log holds no health data); re-admitting and resending an invitation
are button-only posts (portal.forms.EmptyForm)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired


def discharge_reason_labels() -> dict[str, str]:
    """One label for each of portal.models.DISCHARGE_REASONS."""
    return {"completed": _l("Treatment completed"),
            "patient_request": _l("At the patient's request"),
            "referred": _l("Referred elsewhere"),
            "no_contact": _l("No longer in contact"),
            "other": _l("Another reason")}


class DischargeForm(FlaskForm):
    reason = SelectField(_l("Reason for discharge"),
                         validators=[DataRequired(_l("Choose the reason for discharge."))])

    def __init__(self, *args, **kwargs):
        # Its fields sit beside other forms on every tab: a prefix keeps their ids apart.
        kwargs.setdefault("prefix", "discharge")
        super().__init__(*args, **kwargs)
        self.reason.choices = [("", _l("Choose a reason")),
                               *discharge_reason_labels().items()]
