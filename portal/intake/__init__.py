"""The intake questionnaire (SPEC 2). Registered without a URL prefix: the patient's pages
are under /me/intake/, the practitioner's under /clinic/patients/<id>/intake. Registering
the blueprint loads and checks the questionnaire definitions, so a broken definition stops
the application at start-up."""
from flask import Blueprint

from portal.intake import definitions

bp = Blueprint("intake", __name__)
bp.record_once(lambda state: definitions.init_app(state.app))

from portal.intake import (  # noqa: E402,F401
    after_views,
    alerts,
    fhir_views,
    review_views,
    staff_views,
    views,
    withdraw_views,
)
