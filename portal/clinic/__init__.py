"""The practitioner's pages (SPEC 5), one subpackage each, with its views, forms and
services: the worklist, the patient list, a patient's chart and exports, the clinic's
outcomes; and the daily staff digest."""
from flask import Blueprint

bp = Blueprint("clinic", __name__)

# The views register their routes on ``bp``, so they are imported after it exists.
from portal.clinic.chart import consent_views, exports, hold_views, views  # noqa: E402,F401
from portal.clinic.outcomes import report as outcomes_report  # noqa: E402,F401
from portal.clinic.outcomes import views as outcomes_views  # noqa: E402,F401
from portal.clinic.patients import views as patients_views  # noqa: E402,F401
from portal.clinic.worklist import views as worklist_views  # noqa: E402,F401
