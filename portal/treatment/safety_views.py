"""The patient's safety check and "I have a problem after my session" (SPEC 4.2,
portal/treatment/safety.py). The check is answered on the home page: an htmx request gets
its card back (thanks, or the urgent advice), a plain form post goes back to the home page,
which shows the advice while the clinic has not acknowledged the report."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal import htmx
from portal.security import me, own_patient, role_required
from portal.treatment import bp, safety
from portal.treatment.safety_forms import ProblemForm, SafetyCheckForm
from portal.treatment.services import session_by_public_id

patient_required = role_required("patient")

# The signs' labels in the reader's language, for the staff's lists (chart, worklist).
bp.add_app_template_global(safety.labels, "safety_labels")


def error_text(code: str) -> str:
    return {
        "closed": _("The safety questions for this session have closed. If you have a "
                    "problem now, get medical help."),
        "cancelled": _("This session was cancelled."),
        "symptoms": _("Choose from the list."),
        "empty": _("Tick what you have, or tell us what is happening."),
        "comment": _("Please keep it under %(n)d characters.", n=safety.COMMENT_MAX),
        "problem_closed": _("You can report a problem here for %(n)d days after a session. "
                            "If you have a problem now, get medical help, and call your "
                            "clinic.", n=safety_days()),
    }[code]


def safety_days() -> int:
    return int(safety.window().days)


def check_form(session, formdata=True) -> SafetyCheckForm:
    kwargs = {} if formdata else {"formdata": None}
    # "check-<id>-symptoms": the dash given, as WTForms adds none after an id ending in one.
    return SafetyCheckForm(prefix=f"check-{session.public_id}-", **kwargs)


@bp.route("/me/sessions/<session_id>/safety-check", methods=["POST"])
@patient_required
def safety_check(session_id: str):
    patient = own_patient()
    session = session_by_public_id(session_id)
    if session is None or session.patient_id != patient.id:
        abort(404)
    form = check_form(session)
    if not form.validate_on_submit():
        abort(400)
    chosen = form.chosen()
    error = None
    report = None
    if not chosen and form.answer.data != "none":
        error = _("Tick what you have had, or choose \u201cNone of these\u201d.")
    else:
        try:
            report, _stored = safety.answer_check(session, me(), chosen)
        except safety.SafetyError as exc:
            if exc.code == "symptoms":
                error = error_text("symptoms")
            else:
                flash(error_text(exc.code), "error")
                return htmx.hx_redirect(url_for("patient.home"))
    if error is not None:
        form.symptoms.errors = [error]
        if htmx.wants_fragment():
            return htmx.render("treatment/_safety_check.html", status=422, session=session,
                               htmx_fragment=True,
                               form=form, closes_at=safety.check_closes_at(session))
        flash(error, "error")
        return htmx.hx_redirect(url_for("patient.home"))
    assert report is not None
    if not report.alert:
        flash(_("Thank you. We are glad you are well."), "success")
    if htmx.wants_fragment():
        return htmx.render("treatment/_safety_check.html", session=session, report=report,
                           htmx_fragment=True,
                           labels=safety.labels(report.symptoms))
    return htmx.hx_redirect(url_for("patient.home", _anchor="safety-advice")
                            if report.alert else url_for("patient.home"))


def _problem_page(form: ProblemForm, status: int = 200, report=None):
    return htmx.render("treatment/problem.html", status=status, form=form, report=report,
                       session=safety.latest_recent_session(own_patient()),
                       labels=safety.labels(report.symptoms) if report else [],
                       days=safety_days())


@bp.route("/me/problem", methods=["GET", "POST"])
@patient_required
def report_problem():
    own_patient()
    if request.method != "POST":
        return _problem_page(ProblemForm(formdata=None))
    form = ProblemForm()
    if form.validate_on_submit():
        try:
            report, _stored = safety.report_problem(me(), form.symptoms.data or [],
                                                    form.comment.data)
        except safety.SafetyError as exc:
            if exc.code == "closed":
                flash(error_text("problem_closed"), "error")
                return _problem_page(form, status=422)
            target = form.comment if exc.code in ("comment", "empty") else form.symptoms
            target.errors = [error_text(exc.code)]
        else:
            return _problem_page(ProblemForm(formdata=None), report=report)
    return _problem_page(form, status=422)
