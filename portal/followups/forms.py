"""The follow-up questionnaire (SPEC 12.1): the rating form's own questions and fields
(portal.treatment.forms), so the scales read and behave the same. PSFS fields (``psfs_0``
...) are added per patient by followup_form(), as rating_form() does."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal.treatment.forms import GroupRadioField, pgic_labels, scale


class FollowUpForm(FlaskForm):
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

    psfs_names: list[str] = []

    def psfs_fields(self):
        return [self[f"psfs_{i}"] for i in range(len(self.psfs_names))]

    def psfs_answers(self) -> list[dict] | None:
        if not self.psfs_names:
            return None
        return [{"activity": name, "score": self[f"psfs_{i}"].data}
                for i, name in enumerate(self.psfs_names)]


def followup_form(psfs_names: list[str]) -> FollowUpForm:
    """The form with the patient's PSFS activities from the intake (Stratford et al.,
    Physiotherapy Canada 1995), one 0-10 group each."""
    attrs: dict = {"psfs_names": list(psfs_names)}
    for i, name in enumerate(psfs_names):
        attrs[f"psfs_{i}"] = GroupRadioField(
            name, coerce=int, choices=scale(),
            message=_l("Choose a number from 0 to 10 for this activity."))
    return type("PatientFollowUpForm", (FollowUpForm,), attrs)()
