"""The follow-up questionnaire (SPEC 12.1): the rating form's own questions and fields
(portal.treatment.forms), so the scales read and behave the same; the PSFS fields
(``psfs_0`` ...) are the rating's too (PsfsFields), added per patient by followup_form()."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal.treatment.forms import GroupRadioField, PsfsFields, pgic_labels, psfs_attrs, scale


class FollowUpForm(PsfsFields, FlaskForm):
    # The follow-up score: the average pain over the past 24 hours (IMMPACT, Dworkin et al.,
    # Pain 2005;113:9-19; CLINICAL.md, "What the follow-up score asks").
    pain_average = GroupRadioField(
        _l("Over the past 24 hours, what was your pain on average?"), coerce=int,
        choices=scale(),
        message=_l("Choose a number from 0 to 10 for your average pain over the past 24 "
                   "hours."))
    # PGIC (IMMPACT, Dworkin 2008; Farrar et al., Pain 2001), as on session ratings.
    pgic = GroupRadioField(_l("Since you started treatment, how has your pain changed?"),
                           coerce=int,
                           choices=[SelectChoice(v, label) for v, label in pgic_labels()],
                           message=_l("Choose how your pain has changed since you started."))


def followup_form(psfs_names: list[str]) -> FollowUpForm:
    """The form with the patient's PSFS activities from the intake (Stratford et al.,
    Physiotherapy Canada 1995), one 0-10 group each, as on the session rating."""
    return type("PatientFollowUpForm", (FollowUpForm,), psfs_attrs(psfs_names))()
