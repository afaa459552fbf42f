"""The practitioner's home, the worklist (SPEC 5.1), with its invitations."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import htmx
from portal.auth import services as auth_services
from portal.auth.errors import error_text
from portal.auth.forms import InviteForm
from portal.clinic import bp
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


def _worklist_context(scope: work.Scope, keys) -> dict:
    return {"who": scope.who, "sections": work.build(scope, keys), "resend_form": EmptyForm(),
            "refresh_seconds": current_app.config["WORKLIST_REFRESH_SECONDS"]}


def _worklist(form: InviteForm | None = None, status: int = 200):
    # An htmx request gets the invitation panel only: only its section is worked out.
    keys = ("invitations",) if htmx.wants_fragment() else work.SECTIONS
    return htmx.render("clinic/worklist.html", "clinic/_invite_panel.html", status=status,
                       form=form or InviteForm(formdata=None),
                       **_worklist_context(_scope(), keys))


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
            auth_services.invite(me(), form.email.data,
                                 form.name.data, "patient")
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
