"""Treatment sessions and pain ratings (SPEC 4). Registered without a URL prefix: the
practitioner's pages are under /clinic/, the patient's under /me/sessions/ and /me/progress."""
from flask import Blueprint

bp = Blueprint("treatment", __name__)

from portal.treatment import safety_views, views  # noqa: E402,F401
