"""The follow-up pages (SPEC 12.1): by the e-mailed link without signing in (the link is
the key: an unknown, expired or malformed one gets the same 404 page, never anyone's data),
or signed in from the patient's home (another patient's follow-up is a 404). Declining is
one click from either, and from the patient's own follow-ups page, where it can be undone."""
from __future__ import annotations

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _

from portal import htmx
from portal.extensions import limiter
from portal.followups import bp
from portal.followups import services as svc
from portal.followups.forms import FollowUpForm, followup_form
from portal.forms import EmptyForm
from portal.models import FollowUp
from portal.security import me, own_patient, patient_required


def _link_limit() -> str:
    # The same limit as the other pages a link or a guess can reach without signing in.
    return current_app.config["LOGIN_LIMIT_PER_IP"]


def _invalid():
    return htmx.render("followups/link_invalid.html", status=404)


def _page(follow_up: FollowUp, form: FollowUpForm | None, action: str, decline_url: str,
          status: int = 200):
    """The questionnaire while open; otherwise what became of it."""
    if follow_up.status == "answered":
        return htmx.render("followups/answered.html", status=status, follow_up=follow_up)
    if not svc.is_open(follow_up):
        return htmx.render("followups/closed.html", status=status, follow_up=follow_up)
    form = form or followup_form(svc.psfs_activities(follow_up.patient))
    return htmx.render("followups/answer.html", "followups/_form.html", status=status,
                       follow_up=follow_up, form=form, action=action, decline_url=decline_url)


def _submit(follow_up: FollowUp, action: str, decline_url: str, via: str, done_url: str):
    if not svc.is_open(follow_up):
        return _page(follow_up, None, action, decline_url)
    form = followup_form(svc.psfs_activities(follow_up.patient))
    if not form.validate_on_submit():
        return _page(follow_up, form, action, decline_url, status=422)
    answer = svc.Answer(pain_average=form.pain_average.data, pgic=form.pgic.data,
                        psfs=form.psfs_answers())
    try:
        svc.answer(follow_up, answer, me() if via == "signed_in" else None, via)
    except svc.FollowUpError:
        return _page(follow_up, None, action, decline_url)
    flash(_("Thank you. Your answers are saved and your clinic will see them."), "success")
    return htmx.hx_redirect(done_url)


# --- by the e-mailed link ------------------------------------------------------------------

@bp.route("/follow-up/<token>", methods=["GET", "POST"])
@limiter.limit(_link_limit)
def answer_by_link(token: str):
    follow_up = svc.find_by_token(token)
    if follow_up is None:
        return _invalid()
    action = url_for("followups.answer_by_link", token=token)
    decline_url = url_for("followups.decline_by_link", token=token)
    if request.method == "POST":
        return _submit(follow_up, action, decline_url, "link", action)
    return _page(follow_up, None, action, decline_url)


@bp.route("/follow-up/<token>/decline", methods=["GET", "POST"])
@limiter.limit(_link_limit)
def decline_by_link(token: str):
    follow_up = svc.find_by_token(token, to_decline=True)
    if follow_up is None:
        return _invalid()
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        svc.decline(follow_up.patient, None, "link")
        return htmx.hx_redirect(url_for("followups.decline_by_link", token=token))
    return htmx.render("followups/decline.html", form=form, patient=follow_up.patient,
                       action=url_for("followups.decline_by_link", token=token),
                       back=url_for("followups.answer_by_link", token=token)
                       if svc.find_by_token(token) is not None else None)


# --- signed in -------------------------------------------------------------------------------

def _mine(public_id: str) -> FollowUp:
    follow_up = svc.find_mine(me(), public_id)
    if follow_up is None or follow_up.status == "scheduled":
        abort(404)
    return follow_up


@bp.route("/me/follow-ups/<public_id>", methods=["GET", "POST"])
@patient_required
def answer_signed_in(public_id: str):
    follow_up = _mine(public_id)
    action = url_for("followups.answer_signed_in", public_id=public_id)
    decline_url = url_for("followups.mine")
    if request.method == "POST":
        return _submit(follow_up, action, decline_url, "signed_in", action)
    return _page(follow_up, None, action, decline_url)


@bp.route("/me/follow-ups", methods=["GET"])
@patient_required
def mine():
    patient = own_patient()
    return htmx.render("followups/mine.html", patient=patient, form=EmptyForm(),
                       follow_ups=[f for f in svc.for_patient(patient)
                                   if f.status != "cancelled"],
                       is_open=svc.is_open)


@bp.route("/me/follow-ups/decline", methods=["POST"])
@patient_required
def decline_signed_in():
    if not EmptyForm().validate_on_submit():
        abort(400)
    svc.decline(own_patient(), me(), "signed_in")
    flash(_("Done. We will not send you follow-up questions."), "success")
    return htmx.hx_redirect(url_for("followups.mine"))


@bp.route("/me/follow-ups/accept", methods=["POST"])
@patient_required
def accept_again():
    if not EmptyForm().validate_on_submit():
        abort(400)
    if svc.undo_decline(own_patient(), me()):
        flash(_("Done. After your next discharge, we may send you follow-up questions "
                "again."), "success")
    return htmx.hx_redirect(url_for("followups.mine"))
