"""Clearance and other documents (SPEC 3). Registered without a URL prefix: the patient's
pages are under /me/documents/, the staff's under /clinic/, and the files themselves under
/documents/<id>/ for everyone the authorization rule lets through."""
from flask import Blueprint

bp = Blueprint("documents", __name__)

from portal.documents import views  # noqa: E402,F401
