from __future__ import annotations

from flask import abort
from flask_login import current_user

from portal import htmx
from portal.patient import bp, services
from portal.security import patient_required


@bp.route("/")
@patient_required
def home():
    patient = current_user.patient
    if patient is None:
        abort(404)
    return htmx.render("patient/home.html", patient=patient, todos=services.todos(patient))
