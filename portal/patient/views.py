from __future__ import annotations

from flask import abort
from flask_login import current_user

from portal import htmx
from portal.followups import services as followups
from portal.patient import bp, services
from portal.security import patient_required
from portal.treatment import safety
from portal.treatment.safety_views import check_form


@bp.route("/")
@patient_required
def home():
    patient = current_user.patient
    if patient is None:
        abort(404)
    # The safety check of each recent session, and "I have a problem after my session"
    # while a session is recent (SPEC 4.2): on the home page, apart from the rating.
    checks = [(session, check_form(session, formdata=False), safety.check_closes_at(session))
              for session in safety.to_check(patient)]
    return htmx.render("patient/home.html", patient=patient, todos=services.todos(patient),
                       checks=checks, alerts=safety.open_alerts_of(patient),
                       problem_open=safety.latest_recent_session(patient) is not None,
                       follow_ups_page=followups.has_page(patient))
