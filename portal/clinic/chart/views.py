"""The patient chart (SPEC 5.3, 10 /clinic/patients/<public id>/): the summary, ratings and
activity tabs, and the actions in its header (discharge, re-admit, resend the invitation).
The intake, documents and sessions tabs are those features' own pages, drawn in the same
frame (portal.chart_frame, whose header comes from ``frame_context`` here). Every tab view
is one audit event (SPEC 7.1)."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import chart_frame, clock, htmx
from portal.auth import services as auth_services
from portal.clinic import bp
from portal.clinic.chart import services as chart_data
from portal.clinic.chart.forms import (
    ConsentDiscussionForm,
    DischargeForm,
    discharge_reason_labels,
)
from portal.clinic.patients.services import STATUS_LABELS
from portal.forms import EmptyForm, db_int
from portal.i18n import current_locale
from portal.intake import bodymap
from portal.intake import display as intake_display
from portal.models import Patient
from portal.security import me, patient_for, staff_required
from portal.treatment import after_discharge, charts, display
from portal.treatment import forms as treatment_forms
from portal.treatment import services as treatment


def _patient(patient_id: str) -> Patient:
    return patient_for(current_user, patient_id)


def error_text(error: chart_data.ChartError) -> str:
    return {"already_discharged": _("This patient was already discharged."),
            "not_discharged": _("This patient is not discharged.")}[error.code]


def frame_context(patient: Patient,
                  form: DischargeForm | ConsentDiscussionForm | None) -> dict:
    """What the chart's frame shows around every tab: the header and its action forms
    (``form``: the header's form that was sent with errors, if any)."""
    return {"chart": chart_data.header(patient),
            "discharge_form": form if isinstance(form, DischargeForm)
            else DischargeForm(formdata=None),
            "consent_form": form if isinstance(form, ConsentDiscussionForm)
            else consent_discussion_form(),
            "chart_action_form": EmptyForm()}


def consent_discussion_form() -> ConsentDiscussionForm:
    """A fresh consent discussion form: today, now, on the clinic's wall clock."""
    now = treatment.to_clinic(clock.now())
    return ConsentDiscussionForm(formdata=None, data={"day": now.date(),
                                                      "time": now.time().replace(second=0,
                                                                                 microsecond=0)})


bp.record_once(lambda state: chart_frame.set_frame(state.app, frame_context))


# --- summary ------------------------------------------------------------------------------

def _summary(patient: Patient, status: int = 200,
             discharge_form: DischargeForm | ConsentDiscussionForm | None = None):
    summary = chart_data.summary(patient)
    locale = current_locale()
    pain_lines = intake_display.lines(summary.body_map, summary.pain_map, locale) \
        if summary.body_map is not None else []
    return chart_frame.render("summary", "clinic/chart/summary.html", "clinic/chart/_summary.html",
                       status=status, patient=patient, discharge_form=discharge_form,
                       summary=summary, progress=summary.progress, pain_lines=pain_lines,
                       display=display, bodymap=bodymap, locale=locale,
                       follow_ups=after_discharge.for_chart(patient))


@bp.route("/patients/<patient_id>/")
@staff_required
def chart(patient_id: str):
    patient = _patient(patient_id)
    chart_data.record_view(me(), patient, "chart.viewed")
    return _summary(patient)


# --- ratings ------------------------------------------------------------------------------

@bp.route("/patients/<patient_id>/ratings")
@staff_required
def chart_ratings(patient_id: str):
    patient = _patient(patient_id)
    chart_data.record_view(me(), patient, "ratings.viewed")
    progress = treatment.progress(patient, treatment.sessions_for(patient))
    return chart_frame.render("ratings", "clinic/chart/ratings.html", "clinic/chart/_ratings.html",
                       patient=patient, pgic_labels=dict(treatment_forms.pgic_labels()),
                       durations=treatment_forms.duration_labels(),
                       **charts.chart_context(progress, "chart"))


# --- activity -----------------------------------------------------------------------------

def _cursor() -> int | None:
    # An id the database can hold (portal.forms.db_int), and never 0.
    return db_int(request.args.get("before")) or None


@bp.route("/patients/<patient_id>/activity")
@staff_required
def chart_activity(patient_id: str):
    patient = _patient(patient_id)
    chart_data.record_view(me(), patient, "activity.viewed")
    before = _cursor()
    return chart_frame.render("activity", "clinic/chart/activity.html",
                              "clinic/chart/_activity.html",
                              patient=patient, events=chart_data.activity(patient, before),
                              paged=before is not None)


# --- actions ------------------------------------------------------------------------------

def _back_to_chart(patient: Patient):
    return htmx.hx_redirect(url_for("clinic.chart", patient_id=patient.public_id))


@bp.route("/patients/<patient_id>/discharge", methods=["POST"])
@staff_required
def chart_discharge(patient_id: str):
    patient = _patient(patient_id)
    form = DischargeForm()
    if not form.validate_on_submit():
        return _summary(patient, status=422, discharge_form=form)
    try:
        chart_data.discharge(patient, me(), form.reason.data)
    except chart_data.ChartError as exc:
        flash(error_text(exc), "warning")
    else:
        flash(_("%(name)s is discharged (%(reason)s).", name=patient.user.name,
                reason=discharge_reason_labels()[form.reason.data]), "success")
    return _back_to_chart(patient)


def _button_post(patient_id: str) -> Patient:
    """The patient of a button-only post, once its CSRF token is checked."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    return _patient(patient_id)


@bp.route("/patients/<patient_id>/readmit", methods=["POST"])
@staff_required
def chart_readmit(patient_id: str):
    patient = _button_post(patient_id)
    try:
        status = chart_data.readmit(patient, me())
    except chart_data.ChartError as exc:
        flash(error_text(exc), "warning")
    else:
        flash(_("%(name)s is re-admitted. Status: %(status)s.", name=patient.user.name,
                status=STATUS_LABELS[status]), "success")
    return _back_to_chart(patient)


@bp.route("/patients/<patient_id>/invitation", methods=["POST"])
@staff_required
def chart_resend_invitation(patient_id: str):
    patient = _button_post(patient_id)
    user = patient.user
    if user.has_password:
        abort(404)  # joined already: there is no invitation to resend
    auth_services.resend_invitation(me(), user)
    flash(_("A new invitation was sent to %(email)s.", email=user.email), "success")
    return _back_to_chart(patient)
