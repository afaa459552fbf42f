"""The practitioner's home, the worklist (SPEC 5.1), with its invitations."""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import htmx
from portal.auth import services as auth_services
from portal.auth.errors import error_text
from portal.auth.forms import InviteForm
from portal.clinic import bp
from portal.clinic.worklist import red_flags
from portal.clinic.worklist import services as work
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import User
from portal.security import me, passive, staff_required


def _chosen_who() -> str | None:
    """The "my patients / all" choice in the address (or a form's hidden field), if it is a
    valid one."""
    who = request.values.get("who")
    return who if who in work.WHO else None


def _scope() -> work.Scope:
    user = me()
    return work.Scope(_chosen_who() or work.default_who(user), user.id)


def _worklist_context(scope: work.Scope, keys, failed=None) -> dict:
    """``failed``: (the red flag's id, its acknowledgement form with the errors to show)."""
    def ack_form(public_id: str):
        if failed is not None and failed[0] == public_id:
            return failed[1]
        return red_flags.ack_form(public_id, formdata=None)
    return {"who": scope.who, "sections": work.build(scope, keys), "resend_form": EmptyForm(),
            "ack_form": ack_form,
            "refresh_seconds": current_app.config["WORKLIST_REFRESH_SECONDS"]}


def _worklist(form: InviteForm | None = None, status: int = 200, failed=None):
    # An htmx request gets the invitation panel only: only its section is worked out.
    keys = ("invitations",) if htmx.wants_fragment() and failed is None else work.SECTIONS
    return htmx.render("clinic/worklist.html", "clinic/_invite_panel.html", status=status,
                       form=form or InviteForm(formdata=None),
                       **_worklist_context(_scope(), keys, failed))


@bp.route("/")
@staff_required
def worklist():
    return _worklist()


@bp.route("/worklist/<section>")
@staff_required
@passive
def worklist_section(section: str):
    """One section, for the page's self-refresh: 204 when what it shows is the version the
    page has (``v``), else the section to swap in. Not a page of its own: a browser that
    comes here (a bookmark, sign-in's way back) goes to the worklist at that section."""
    if section not in work.SECTIONS:
        abort(404)
    scope = _scope()
    if not htmx.wants_fragment():
        return redirect(url_for("clinic.worklist", who=_chosen_who(), _anchor=section), 303)
    context = _worklist_context(scope, (section,))
    if request.args.get("v") == context["sections"][section].version:
        return Response(status=204)
    return Response(render_template("clinic/_worklist_section.html",
                                    section=context["sections"][section], **context),
                    mimetype="text/html")


@bp.route("/invitations", methods=["POST"])
@staff_required
def invite_patient():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            auth_services.invite(me(), form.email.data, form.name.data, "patient",
                                 locale=form.locale.data)
        except auth_services.AccountError as exc:
            form.email.errors = [error_text(exc)]
        else:
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            if htmx.wants_fragment():
                return _worklist()
            return htmx.hx_redirect(url_for("clinic.worklist", who=_chosen_who()))
    return _worklist(form, status=422)


@bp.route("/invitations/<public_id>/resend", methods=["POST"])
@staff_required
def resend_invitation(public_id: str):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    user = db.session.scalar(select(User).where(User.public_id == public_id,
                                                User.role == "patient"))
    if user is None or user.has_password:
        abort(404)
    auth_services.resend_invitation(me(), user)
    flash(_("A new invitation was sent to %(email)s.", email=user.email), "success")
    return htmx.hx_redirect(url_for("clinic.worklist", who=_chosen_who()))


# --- acknowledging red flags (SPEC 5.1) ---------------------------------------------------

def _red_flags_answer(failed=None, status: int = 200):
    """After an acknowledgement: the red flags section again (htmx), or the worklist."""
    if failed is None and not htmx.wants_fragment():
        return redirect(url_for("clinic.worklist", who=_chosen_who(), _anchor="red-flags"), 303)
    if not htmx.wants_fragment():
        return _worklist(status=status, failed=failed)
    context = _worklist_context(_scope(), ("red-flags",), failed)
    # Done: focus goes to the section's heading (the line acted on is gone); refused: to
    # the note (templates/clinic/_worklist_items.html).
    html = render_template("clinic/_worklist_section.html",
                           section=context["sections"]["red-flags"],
                           focus_section="red-flags" if failed is None else None, **context)
    return Response(html + render_template("_flash_oob.html"), status=status,
                    mimetype="text/html")


def _acknowledged(item_id: str, act: Callable[[str], None], done: str) -> Response:
    """The one answer of both red-flag forms: the note refused (by its field, 422), someone
    acknowledged first (said, nothing changed) or done (``done`` said)."""
    form = red_flags.ack_form(item_id)
    try:
        if not form.validate_on_submit():
            raise red_flags.NoteNeeded
        act(form.note.data)
    except red_flags.NoteNeeded:
        form.note.errors = [red_flags.note_error()]
        return _red_flags_answer((item_id, form), status=422)
    except red_flags.AlreadyDone as already:
        flash(already.text, "warning")
    else:
        flash(done, "success")
    return _red_flags_answer()


@bp.route("/safety/<report_id>/acknowledge", methods=["POST"])
@staff_required
def acknowledge_safety(report_id: str):
    report = red_flags.safety_report(report_id)
    return _acknowledged(report.public_id,
                         lambda note: red_flags.acknowledge_safety(report, me(), note),
                         _("Acknowledged. Your note is on the patient's chart."))


@bp.route("/red-flags/intakes/<patient_id>/review", methods=["POST"])
@staff_required
def review_red_flag_intake(patient_id: str):
    response = red_flags.flagged_intake(patient_id)
    return _acknowledged(response.public_id,
                         lambda note: red_flags.review_intake(response, me(), note),
                         _("Intake reviewed. Your note is on the patient's chart."))
