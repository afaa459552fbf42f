"""A patient's legal hold (SPEC 11.2, /clinic/patients/<public id>/legal-hold): staff place
one with a reason; an admin lifts it. While it lasts the record is never disposed of, even
once its retention period has ended (portal.rights.hold)."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from portal import htmx
from portal.clinic import bp
from portal.clinic.chart import views as chart_views
from portal.forms import EmptyForm
from portal.models import Patient
from portal.rights import hold
from portal.rights.disposal import DisposalError
from portal.security import me, staff_required


class LegalHoldForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the record must be kept"),
        validators=[DataRequired(_l("Say why the record must be kept.")),
                    Length(max=hold.REASON_MAX, message=_l(
                        "Keep the reason to %(max)d characters or fewer."))],
        id="legal-hold-reason")


def _page(patient: Patient, form: LegalHoldForm | None = None, status: int = 200):
    return htmx.render("clinic/legal_hold.html", status=status, patient=patient,
                       form=form or LegalHoldForm(formdata=None), lift_form=EmptyForm())


@bp.route("/patients/<patient_id>/legal-hold")
@staff_required
def legal_hold(patient_id: str):
    return _page(chart_views._patient(patient_id))


@bp.route("/patients/<patient_id>/legal-hold", methods=["POST"])
@staff_required
def place_legal_hold(patient_id: str):
    patient = chart_views._patient(patient_id)
    form = LegalHoldForm()
    if not form.validate_on_submit():
        return _page(patient, form, status=422)
    try:
        hold.place(patient, me(), form.reason.data)
    except DisposalError:  # "already_held": placed by someone else meanwhile
        flash(_("This record is already under a legal hold."), "warning")
    else:
        flash(_("The legal hold is placed: this record will not be disposed of."), "success")
    return htmx.hx_redirect(url_for("clinic.legal_hold", patient_id=patient.public_id))


@bp.route("/patients/<patient_id>/legal-hold/lift", methods=["POST"])
@staff_required
def lift_legal_hold(patient_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    patient = chart_views._patient(patient_id)
    if not me().is_admin:  # only admins lift a hold; outside one's role is 404 (SPEC 1.5)
        abort(404)
    try:
        hold.lift(patient, me())
    except DisposalError:  # "not_held": lifted by someone else meanwhile
        flash(_("This record is not under a legal hold."), "warning")
    else:
        flash(_("The legal hold is lifted."), "success")
    return htmx.hx_redirect(url_for("clinic.legal_hold", patient_id=patient.public_id))
