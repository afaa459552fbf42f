"""The retention schedule for admins (SPEC 11.2, /admin/retention): the records whose
retention period has ended, listed by the periodic task; approving their disposal, with the
count typed or a second admin's confirmation; and the tombstones of those disposed of
(portal.rights.disposal)."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal import htmx
from portal.admin import bp
from portal.admin.retention_forms import ApproveDisposalForm, ConfirmDisposalForm
from portal.audit_words import PATIENT_STATUSES
from portal.clinic_settings import current_settings
from portal.rights import disposal as disposals
from portal.security import admin_required, me


def _page(approve_form: ApproveDisposalForm | None = None,
          confirm_form: ConfirmDisposalForm | None = None, status: int = 200):
    schedule = disposals.schedule()
    if approve_form is None:
        # Ticked when the page opens: those not back since the listing.
        approve_form = ApproveDisposalForm(formdata=None, data={"records": [
            r.disposal.public_id for r in schedule.listed if not r.back]})
    if confirm_form is None:
        confirm_form = ConfirmDisposalForm(formdata=None, data={"records": [
            r.disposal.public_id for r in schedule.approved
            if r.disposal.approved_by_id != me().id and not r.back]})
    return htmx.render("admin/retention.html", status=status, schedule=schedule,
                       approve_form=approve_form, confirm_form=confirm_form,
                       status_words=PATIENT_STATUSES,
                       retention_years=current_settings().retention_years)


@bp.route("/retention")
@admin_required
def retention():
    return _page()


def _chosen(public_ids: list[str]) -> list:
    try:
        return disposals.pending(public_ids)
    except disposals.DisposalError:
        abort(404)


def _skipped(count: int) -> None:
    if count:
        flash(ngettext("%(num)d record was not disposed of: it is under a legal hold, was "
                       "seen again or was handled by another administrator meanwhile.",
                       "%(num)d records were not disposed of: they are under a legal hold, "
                       "were seen again or were handled by another administrator meanwhile.",
                       count), "warning")


@bp.route("/retention/approve", methods=["POST"])
@admin_required
def approve_disposal():
    form = ApproveDisposalForm()
    if not form.validate_on_submit():
        return _page(approve_form=form, status=422)
    chosen = _chosen(form.records.data)
    if form.method.data == "typed":
        try:
            outcome = disposals.approve_typed(me(), chosen, form.count.data)
        except disposals.DisposalError:  # the same record ticked twice: counted once here
            form.count.errors = [_("You ticked %(num)d records: type %(num)d to dispose of "
                                   "them.", num=len(chosen))]
            return _page(approve_form=form, status=422)
        if outcome.done:
            flash(ngettext("%(num)d record was disposed of.", "%(num)d records were disposed "
                           "of.", outcome.done), "success")
    else:
        outcome = disposals.ask_second_admin(me(), chosen)
        if outcome.done:
            flash(ngettext("%(num)d record is waiting for a second administrator's "
                           "confirmation.", "%(num)d records are waiting for a second "
                           "administrator's confirmation.", outcome.done), "success")
    _skipped(outcome.skipped)
    return htmx.hx_redirect(url_for("admin.retention"))


@bp.route("/retention/confirm", methods=["POST"])
@admin_required
def confirm_disposal():
    form = ConfirmDisposalForm()
    if not form.validate_on_submit():
        return _page(confirm_form=form, status=422)
    try:
        outcome = disposals.confirm(me(), _chosen(form.records.data))
    except disposals.DisposalError:  # "own_approval": the form lists none, but a stale one
        form.records.errors = [_("You approved some of these records yourself: another "
                                 "administrator must confirm their disposal.")]
        return _page(confirm_form=form, status=422)
    if outcome.done:
        flash(ngettext("%(num)d record was disposed of.", "%(num)d records were disposed of.",
                       outcome.done), "success")
    _skipped(outcome.skipped)
    return htmx.hx_redirect(url_for("admin.retention"))


@bp.route("/retention/withdraw", methods=["POST"])
@admin_required
def withdraw_disposal_approval():
    form = ConfirmDisposalForm()
    if not form.validate_on_submit():
        return _page(confirm_form=form, status=422)
    done = disposals.withdraw_approval(me(), _chosen(form.records.data))
    if done:
        flash(ngettext("%(num)d record is back on the list, not approved.",
                       "%(num)d records are back on the list, not approved.", done),
              "success")
    return htmx.hx_redirect(url_for("admin.retention"))
