"""Sessions and ratings: the practitioner's sessions page, the patient's sessions, rating
form and progress. Every session is reached through the one authorization rule
(security.patient_for on its patient): anyone else gets 404."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from portal import chart_frame, clock, formats, htmx
from portal.i18n import current_locale
from portal.intake import bodymap
from portal.models import Patient, TreatmentSession
from portal.security import me, own_patient, patient_for, role_required, staff_required
from portal.treatment import after_discharge, bp, charts, display, forms, safety, services

patient_required = role_required("patient")


def _messages() -> dict[str, str]:
    return {
        "future": _("The session cannot be in the future."),
        "no_regions": _("Choose at least one region treated."),
        "nprs_range": _("Choose a number from 0 to 10."),
        "reason": _("Give a reason."),
        "unchanged": _("Nothing was changed."),
        "cancelled": _("This session was cancelled."),
        "already_cancelled": _("This session was already cancelled."),
        "closed": _("The time to rate this session has ended."),
        "locked": _("Your rating can no longer be changed."),
    }


def error_text(error: services.TreatmentError) -> str:
    if error.code == "not_open":
        return formats.end_sentence(_("You can rate this session from %(when)s.",
                                      when=display.day_and_time(error.params["opens_at"])))
    return _messages()[error.code]



def gate_refusal(refused: services.GateRefused, correcting: bool = False) -> str:
    if refused.final and "consent_withdrawn" not in refused.missing:  # signed again
        if correcting:
            return _("On this date the patient had signed the consent again after withdrawing "
                     "it, with no new consent discussion recorded: no session can be kept on "
                     "it, even with a reason. Keep the earlier date.")
        return _("The patient signed the consent again after withdrawing it. No session can "
                 "be recorded, even with a reason, until the new consent discussion is "
                 "recorded.")
    if refused.final:  # consent withdrawn: no reason passes it
        if correcting:
            return _("On this date the patient had withdrawn their consent to treatment: no "
                     "session can be kept on it, even with a reason. Keep the earlier date.")
        return _("The patient withdrew their consent to treatment. No session can be "
                 "recorded, even with a reason, until they sign the consent again and a new "
                 "consent discussion is recorded.")
    if refused.short:
        return _("A reason to go ahead needs at least %(n)d characters: say what you checked "
                 "instead.", n=services.OVERRIDE_REASON_MIN)
    if correcting:
        return _("On this date the patient has %(missing)s. Keep the earlier date, or give "
                 "your reason to keep this one anyway.", missing=display.gates(refused.missing))
    return _("This patient has %(missing)s. To record the session anyway, give your "
             "reason.", missing=display.gates(refused.missing))


def _session(public_id: str) -> TreatmentSession:
    """The session, if the signed-in user may see its patient; otherwise 404."""
    session = services.session_by_public_id(public_id)
    if session is None:
        abort(404)
    patient_for(current_user, session.patient.public_id)
    return session




# --- charts -------------------------------------------------------------------------------

# --- the practitioner's sessions page (SPEC 4.1, 5.3) ----------------------------------

def _record_form(patient: Patient, submitted: bool = False) -> forms.RecordSessionForm:
    if submitted:
        form = forms.RecordSessionForm()
    else:
        # The last session's regions, ready to be changed: most sessions treat the same
        # places again.
        now = services.to_clinic(clock.now())
        form = forms.RecordSessionForm(formdata=None, day=now.date(),
                                       time=now.time().replace(second=0, microsecond=0),
                                       regions=services.last_regions(patient))
    form.set_region_choices(current_locale())
    return form


def _baseline_form(patient: Patient, submitted: bool = False) -> forms.BaselineForm:
    if submitted:
        return forms.BaselineForm()
    override = services.baseline_override(patient)
    return forms.BaselineForm(formdata=None,
                              baseline=override.baseline_override if override else None,
                              baseline_reason=override.baseline_override_reason
                              if override else None)


def _staff_context(patient: Patient, record_form=None, baseline_form=None,
                   focus: str | None = None) -> dict:
    """Everything treatment/_patient_sessions.html needs; the patient chart's sessions and
    ratings tabs (SPEC 5.3) can render treatment/_session_list.html and the charts with it."""
    sessions = services.sessions_for(patient)
    progress = services.progress(patient, sessions)
    now = clock.now()
    return {
        "patient": patient, "sessions": sessions, "numbers": services.numbers(sessions),
        "safety_alerts": safety.alerts_for(patient),
        "statuses": {s.id: services.rating_status(s, now) for s in sessions},
        "gate": services.gate(patient),
        "record_form": record_form or _record_form(patient),
        # Before a first session, where the patient marked pain in the intake: a hint.
        "pain_regions": [] if any(s.status == "recorded" for s in sessions)
        else services.pain_regions(patient),
        "baseline_form": baseline_form or _baseline_form(patient),
        "gate_labels": {g: display.gates([g]) for g in services.GATES},
        "pgic_labels": dict(forms.pgic_labels()), "durations": forms.duration_labels(),
        "bodymap": bodymap, "locale": current_locale(),
        "closes_at": services.closes_at,
        # After an htmx swap, the element with this id takes the focus (static/js).
        "focus": focus,
        **charts.chart_context(progress, "staff"),
    }


def _staff_page(patient: Patient, status: int = 200, **forms_given) -> Response:
    return chart_frame.render("sessions", "treatment/patient_sessions.html",
                             "treatment/_patient_sessions.html", status=status,
                             **_staff_context(patient, **forms_given))


def _after_change(patient: Patient, focus: str | None = None) -> BaseResponse:
    if htmx.wants_fragment():
        return _staff_page(patient, focus=focus)
    return htmx.hx_redirect(url_for("treatment.patient_sessions", patient_id=patient.public_id))


@bp.route("/clinic/patients/<patient_id>/sessions")
@staff_required
def patient_sessions(patient_id: str):
    patient = patient_for(current_user, patient_id)
    services.record_sessions_view(me(), patient)
    return _staff_page(patient)


def _session_input(form: forms.SessionForm) -> services.SessionInput:
    return services.SessionInput(
        treated_at=services.clinic_datetime(form.day.data, form.time.data),
        regions=list(form.regions.data or []), nprs_before=form.nprs_before.data,
        notes=form.notes.data)


def _field_for(code: str, form: forms.SessionForm):
    return {"future": form.day, "no_regions": form.regions,
            "nprs_range": form.nprs_before}.get(code)


@bp.route("/clinic/patients/<patient_id>/sessions", methods=["POST"])
@staff_required
def record_session(patient_id: str):
    patient = patient_for(current_user, patient_id)
    form = _record_form(patient, submitted=True)
    if form.validate_on_submit():
        try:
            session = services.record_session(patient, me(), _session_input(form),
                                              form.override_reason.data, form.form_key.data)
        except services.GateRefused as refused:
            # No reason passes a withdrawn consent: the refusal stands by the date.
            target = form.day if refused.final else form.override_reason
            target.errors = [gate_refusal(refused)]
        except services.TreatmentError as exc:
            target = _field_for(exc.code, form) or form.day
            target.errors = [error_text(exc)]
        else:
            when = display.moment(session.treated_at)
            flash(_("Session of %(when)s recorded. The patient will be asked to rate it.",
                    when=when), "success")
            if session.overridden:
                flash(_("Recorded with your reason for going ahead; this is in the audit "
                        "log."), "warning")
            return _after_change(patient, focus=f"session-{session.public_id}")
    return _staff_page(patient, status=422, record_form=form)


def _correct_page(session: TreatmentSession, form=None, cancel_form=None, status: int = 200):
    if form is None:
        local = services.to_clinic(session.treated_at)
        form = forms.CorrectSessionForm(formdata=None, day=local.date(),
                                        time=local.time().replace(second=0, microsecond=0),
                                        regions=list(session.regions),
                                        nprs_before=session.nprs_before, notes=session.notes)
        form.set_region_choices(current_locale())
    return htmx.render("treatment/correct.html", status=status, session=session,
                       patient=session.patient, form=form,
                       cancel_form=cancel_form or forms.CancelSessionForm(formdata=None),
                       number=services.session_number(session), bodymap=bodymap,
                       locale=current_locale())


@bp.route("/clinic/sessions/<session_id>/correct", methods=["GET", "POST"])
@staff_required
def correct_session(session_id: str):
    session = _session(session_id)
    if session.cancelled:
        abort(404)
    if request.method != "POST":
        return _correct_page(session)
    form = forms.CorrectSessionForm()
    form.set_region_choices(current_locale())
    if form.validate_on_submit():
        try:
            services.correct_session(session, me(), _session_input(form), form.reason.data,
                                     form.override_reason.data)
        except services.GateRefused as refused:
            # The date is what made the gate shut: the message stands by it (a reason too
            # short stands by the reason).
            target = form.override_reason if refused.short else form.day
            target.errors = [gate_refusal(refused, correcting=True)]
        except services.TreatmentError as exc:
            target = _field_for(exc.code, form) or form.reason
            target.errors = [error_text(exc)]
        else:
            flash(_("The session was corrected. The earlier values are kept with it."),
                  "success")
            return htmx.hx_redirect(url_for("treatment.patient_sessions",
                                            patient_id=session.patient.public_id))
    return _correct_page(session, form=form, status=422)


@bp.route("/clinic/sessions/<session_id>/cancel", methods=["POST"])
@staff_required
def cancel_session(session_id: str):
    session = _session(session_id)
    form = forms.CancelSessionForm()
    if form.validate_on_submit():
        try:
            services.cancel_session(session, me(), form.cancel_reason.data)
        except services.TreatmentError as exc:
            flash(error_text(exc), "error")
        else:
            flash(_("The session was cancelled. It stays in the record, marked cancelled."),
                  "success")
        return htmx.hx_redirect(url_for("treatment.patient_sessions",
                                        patient_id=session.patient.public_id))
    if session.cancelled:
        abort(404)
    return _correct_page(session, cancel_form=form, status=422)


@bp.route("/clinic/patients/<patient_id>/baseline", methods=["POST"])
@staff_required
def set_baseline(patient_id: str):
    patient = patient_for(current_user, patient_id)
    form = _baseline_form(patient, submitted=True)
    if form.validate_on_submit():
        services.set_baseline(patient, me(), form.baseline.data, form.baseline_reason.data)
        flash(_("Baseline saved.") if form.baseline.data is not None
              else _("The baseline is the intake's again."), "success")
        return _after_change(patient, focus="outcome-title")
    return _staff_page(patient, status=422, baseline_form=form)


# --- the patient's pages (SPEC 4.2, 4.3) -----------------------------------------------

@bp.route("/me/sessions/")
@patient_required
def my_sessions():
    patient = own_patient()
    sessions = services.sessions_for(patient)
    now = clock.now()
    statuses = {s.id: services.rating_status(s, now) for s in sessions}
    shown = [s for s in reversed(sessions) if statuses[s.id] != "cancelled"]
    return htmx.render("treatment/my_sessions.html", sessions=shown,
                       numbers=services.numbers(sessions), statuses=statuses,
                       to_rate=[s for s in sessions
                                if statuses[s.id] in ("due", "overdue", "upcoming")],
                       closes_at=services.closes_at, can_edit=services.can_edit,
                       pgic_labels=dict(forms.pgic_labels()))


def _rating_page(session: TreatmentSession, form=None, status: int = 200, saved=None):
    rating = session.rating
    names = [item["activity"] for item in rating.psfs] if rating is not None and rating.psfs \
        else services.psfs_activities_for(session)
    editable = (rating is None and services.can_rate(session)) or \
        (rating is not None and services.can_edit(rating))
    if form is None:
        form = forms.rating_form(names, rating=rating, formdata=False)
    return htmx.render("treatment/rate.html", "treatment/_rating.html", status=status,
                       session=session, rating=rating, form=form, editable=editable,
                       number=services.session_number(session),
                       state=services.rating_status(session),
                       closes_at=services.closes_at(session),
                       editable_until=services.editable_until(rating) if rating else None,
                       pgic_labels=dict(forms.pgic_labels()),
                       durations=forms.duration_labels(), saved=saved)


@bp.route("/me/sessions/<session_id>/rating", methods=["GET", "POST"])
@patient_required
def rate(session_id: str):
    session = _session(session_id)
    if session.cancelled:
        abort(404)
    if request.method != "POST":
        return _rating_page(session)
    rating = session.rating
    names = [item["activity"] for item in rating.psfs] if rating is not None and rating.psfs \
        else services.psfs_activities_for(session)
    form = forms.rating_form(names)
    if not form.validate_on_submit():
        return _rating_page(session, form=form, status=422)
    data = services.RatingInput(
        pain_now=form.pain_now.data, pain_average=form.pain_average.data,
        pgic=form.pgic.data, soreness=form.soreness.data,
        soreness_duration=form.soreness_duration.data, comment=form.comment.data,
        psfs=form.psfs_answers())
    try:
        services.save_rating(session, me(), data)
    except services.TreatmentError as exc:
        flash(error_text(exc), "error")
        return htmx.hx_redirect(url_for("treatment.rate", session_id=session.public_id))
    hours = int(current_app.config["RATING_EDIT_WINDOW"].total_seconds() // 3600)
    flash(ngettext("Thank you. Your answers are saved. You can change them for %(num)d "
                   "hour.", "Thank you. Your answers are saved. You can change them for "
                   "%(num)d hours.", hours), "success")
    return htmx.hx_redirect(url_for("treatment.rate", session_id=session.public_id))


@bp.route("/me/progress")
@patient_required
def progress():
    patient = own_patient()
    sessions = services.sessions_for(patient)
    return htmx.render("treatment/progress.html",
                       follow_ups=after_discharge.answered(patient),
                       follow_up_sentence=after_discharge.plain_sentence,
                       **charts.chart_context(services.progress(patient, sessions), "my"))
