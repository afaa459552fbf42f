from __future__ import annotations

import zoneinfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.clinic.forms import InviteForm

# Canadian zones first: the clinics are Canadian; every IANA zone is accepted.
CANADIAN_ZONES = ["America/Vancouver", "America/Edmonton", "America/Regina",
                  "America/Winnipeg", "America/Toronto", "America/Halifax",
                  "America/St_Johns", "America/Whitehorse"]


def timezone_choices() -> list[SelectChoice]:
    others = sorted(z for z in zoneinfo.available_timezones()
                    if "/" in z and not z.startswith(("Etc/", "SystemV/")) and z not in CANADIAN_ZONES)
    return [SelectChoice(z, z.replace("_", " ")) for z in CANADIAN_ZONES + others]


class StaffInviteForm(InviteForm):
    role = SelectField(_l("Role"), choices=[SelectChoice("practitioner", _l("Practitioner")),
                                            SelectChoice("admin", _l("Administrator (also a practitioner)"))],
                       default="practitioner")


class SettingsForm(FlaskForm):
    # Its own id: the staff invitation form on the same page has a "name" field too, and two
    # id="name" would give the clinic's name field no label.
    name = StringField(_l("Clinic name"),
                       validators=[DataRequired(_l("Enter the clinic's name.")), Length(max=200)],
                       id="clinic-name")
    timezone = SelectField(_l("Time zone"), choices=timezone_choices)
    self_registration = BooleanField(_l("Patients may create their own account (with e-mail confirmation)"))
