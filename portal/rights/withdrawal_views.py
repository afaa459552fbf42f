"""The practitioner acknowledges a patient's withdrawal of consent, from the chart (SPEC
11.1; portal/rights/withdrawal.py). A button-only form with its CSRF token; whoever comes
second is told who did it, and nothing changes."""
from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import htmx
from portal.formats import format_datetime
from portal.forms import EmptyForm
from portal.rights import bp, withdrawal
from portal.security import me, patient_for, staff_required


@bp.route("/clinic/patients/<patient_id>/consent-withdrawal/acknowledge", methods=["POST"])
@staff_required
def acknowledge_withdrawal(patient_id: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    patient = patient_for(current_user, patient_id)
    if withdrawal.acknowledge(patient, me()):
        flash(_("Acknowledged. The withdrawal is no longer on the worklist."), "success")
    else:
        seen = withdrawal.last_seen(patient)
        if seen is not None and seen[1] is not None and seen[0].withdrawal_seen_at:
            flash(_("%(name)s acknowledged it already (%(when)s). Nothing changed.",
                    name=seen[1].name, when=format_datetime(seen[0].withdrawal_seen_at,
                                                            "short")), "warning")
        else:
            flash(_("There is no withdrawal to acknowledge."), "warning")
    return htmx.hx_redirect(url_for("clinic.chart", patient_id=patient.public_id))
