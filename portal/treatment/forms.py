"""Forms for sessions (staff) and ratings (patients). Every choice on the rating form is a
real radio group (fieldset and legend, drawn by the choice_group macro), so it works with a
keyboard, a screen reader and without JavaScript."""
from __future__ import annotations

import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import plausible_date
from portal.intake import bodymap


def scale() -> list[SelectChoice]:
    return [SelectChoice(n, str(n)) for n in range(11)]


def _values(choices) -> set:
    return {c.value if isinstance(c, SelectChoice) else c[0] for c in choices}


def pgic_labels() -> list[tuple[int, str]]:
    """PGIC, seven points from "very much worse" to "very much improved" (IMMPACT, Dworkin
    2008; Farrar et al., Pain 2001). Stored -3 .. +3."""
    return [(-3, _l("Very much worse")), (-2, _l("Much worse")), (-1, _l("A little worse")),
            (0, _l("No change")), (1, _l("A little better")), (2, _l("Much better")),
            (3, _l("Very much better"))]


def duration_labels() -> dict[str, str]:
    return {"none": _l("I had no soreness"), "under_day": _l("Less than a day"),
            "one_two_days": _l("1 to 2 days"), "three_plus_days": _l("3 days or more"),
            "still_sore": _l("I am still sore")}


class GroupRadioField(RadioField):
    """A radio group that says one plain thing when nothing (or something unknown) was
    chosen, and whose first option carries the field's id, so that the error summary's
    link lands on the group."""

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, validate_choice=False, **kwargs)
        self.message = message

    def pre_validate(self, form):
        if self.data is None or self.data not in _values(self.choices):
            raise StopValidation(str(self.message) if self.message else
                                 str(_l("Choose one of the answers.")))

    def __iter__(self):
        for index, option in enumerate(super().__iter__()):
            if index == 0:
                option.id = self.id
            yield option


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class PsfsFields:
    """The patient's own PSFS activities (``psfs_0`` ...: Stratford et al., Physiotherapy
    Canada 1995), added to a form class per patient by psfs_attrs(); the session rating and
    the follow-up after discharge ask them alike."""
    psfs_names: list[str] = []

    def psfs_fields(self):
        return [getattr(self, f"psfs_{i}") for i in range(len(self.psfs_names))]

    def psfs_answers(self) -> list[dict] | None:
        if not self.psfs_names:
            return None
        return [{"activity": name, "score": getattr(self, f"psfs_{i}").data}
                for i, name in enumerate(self.psfs_names)]


def psfs_attrs(psfs_names: list[str]) -> dict[str, Any]:
    """The class attributes that give a PsfsFields form ``psfs_names``, one 0-10 group each."""
    attrs: dict[str, Any] = {"psfs_names": list(psfs_names)}
    for i, name in enumerate(psfs_names):
        attrs[f"psfs_{i}"] = GroupRadioField(
            name, coerce=int, choices=scale(),
            message=_l("Choose a number from 0 to 10 for this activity."))
    return attrs


class RatingForm(PsfsFields, FlaskForm):
    """The questions after a session (SPEC 4.2). PSFS fields (``psfs_0`` ...) are added per
    patient by rating_form().

    The first question is the follow-up score compared with the baseline: the average pain
    over the past 24 hours, IMMPACT's core measure of pain intensity (Dworkin et al., Pain
    2005;113:9-19; CLINICAL.md, "What the follow-up score asks"). Pain now and the soreness
    after needling (which lasts up to about 72 hours: Martin-Pintado-Zugasti et al., J Bodyw
    Mov Ther 2018) are asked apart and never compared with the baseline."""
    pain_average = GroupRadioField(
        _l("Over the past 24 hours, what was your pain on average?"), coerce=int,
        choices=scale(),
        message=_l("Choose a number from 0 to 10 for your average pain over the past 24 "
                   "hours."))
    pain_now = GroupRadioField(_l("How much pain do you have now?"), coerce=int, choices=scale(),
                               message=_l("Choose a number from 0 to 10 for your pain now."))
    pgic = GroupRadioField(_l("Since you started treatment, how has your pain changed?"),
                           coerce=int,
                           choices=[SelectChoice(v, label) for v, label in pgic_labels()],
                           message=_l("Choose how your pain has changed since you started."))
    soreness = GroupRadioField(_l("How sore were the needled muscles after the session?"),
                               coerce=int, choices=scale(),
                               message=_l("Choose a number from 0 to 10 for the soreness."))
    soreness_duration = GroupRadioField(
        _l("How long did the soreness last?"),
        choices=[SelectChoice(k, v) for k, v in duration_labels().items()],
        message=_l("Choose how long the soreness lasted."))
    comment = TextAreaField(_l("Anything else you want your practitioner to know? (optional)"),
                            validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})

    def validate_soreness_duration(self, field):
        if self.soreness.data and self.soreness.data > 0 and field.data == "none":
            raise StopValidation(_l("You gave the soreness a number above 0: choose how long "
                                    "it lasted."))


def rating_form(psfs_names: list[str], rating=None, formdata=True) -> RatingForm:
    """The rating form for one session: with the patient's own PSFS activities (from the
    intake, by name) when this session asks for them; filled from ``rating`` to edit it."""
    form_class = type("SessionRatingForm", (RatingForm,), psfs_attrs(psfs_names))
    kwargs: dict[str, Any] = {} if formdata else {"formdata": None}
    if rating is not None and not formdata:
        data = {"pain_average": rating.pain_average,
                "pain_now": rating.pain_now, "pgic": rating.pgic, "soreness": rating.soreness,
                "soreness_duration": rating.soreness_duration, "comment": rating.comment}
        saved = {item["activity"]: item["score"] for item in rating.psfs or []}
        for i, name in enumerate(psfs_names):
            data[f"psfs_{i}"] = saved.get(name)
        kwargs["data"] = data
    return form_class(**kwargs)


# --- staff --------------------------------------------------------------------------------

class RegionsField(SelectMultipleField):
    """Body-map region codes, one checkbox each (the choices come from portal.intake.bodymap
    in the reader's language)."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        known = _values(self.choices)
        if not self.data:
            raise StopValidation(str(_l("Choose at least one region treated.")))
        if any(code not in known for code in self.data):
            raise StopValidation(str(_l("Choose regions from the list.")))


def _nprs_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("Not asked"))] + [SelectChoice(str(n), str(n)) for n in range(11)]


class SessionForm(FlaskForm):
    day = DateField(_l("Date of the session"),
                    validators=[InputRequired(_l("Enter the date of the session.")),
                                plausible_date])
    time = TimeField(_l("Time"), validators=[InputRequired(_l("Enter the time of the session."))])
    regions = RegionsField(_l("Regions treated"))
    nprs_before = SelectField(_l("Pain before needling, 0 to 10 (optional)"),
                              choices=_nprs_choices(), coerce=_int_or_none,
                              validators=[Optional()])
    notes = TextAreaField(_l("Private notes (the patient never sees these)"),
                          validators=[Optional(), Length(max=5000)], render_kw={"rows": 4})

    def set_region_choices(self, locale: str) -> None:
        self.regions.choices = [SelectChoice(r.code, r.label(locale)) for r in bodymap.regions()]


class RecordSessionForm(SessionForm):
    override_reason = TextAreaField(_l("Reason to record it anyway"),
                                    validators=[Optional(), Length(max=2000)],
                                    render_kw={"rows": 3})
    # A random key per drawn form: sent twice, it still records one session.
    form_key = HiddenField(default=lambda: secrets.token_urlsafe(16))


class CorrectSessionForm(SessionForm):
    reason = TextAreaField(_l("Reason for the correction"),
                           validators=[DataRequired(_l("Say why the session is corrected.")),
                                       Length(max=2000)], render_kw={"rows": 3})
    override_reason = TextAreaField(_l("Reason to keep it anyway (only if the new date does "
                                       "not pass the clearance and consent check)"),
                                    validators=[Optional(), Length(max=2000)],
                                    render_kw={"rows": 3})


class CancelSessionForm(FlaskForm):
    cancel_reason = TextAreaField(_l("Reason for cancelling"),
                                  validators=[DataRequired(_l("Say why the session is "
                                                              "cancelled.")),
                                              Length(max=2000)], render_kw={"rows": 3})


class BaselineForm(FlaskForm):
    baseline = SelectField(_l("Baseline pain, 0 to 10"),
                           choices=[SelectChoice("", _l("Use the intake's (average pain last "
                                                        "week)"))]
                           + [SelectChoice(str(n), str(n)) for n in range(11)],
                           coerce=_int_or_none, validators=[Optional()])
    # No Optional(): it would stop the check below when the reason is empty.
    baseline_reason = TextAreaField(_l("Why this baseline"), validators=[Length(max=1000)],
                                    render_kw={"rows": 2})

    def validate_baseline_reason(self, field):
        if self.baseline.data is not None and not (field.data or "").strip():
            raise StopValidation(_l("Say why you set another baseline."))
