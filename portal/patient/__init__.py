from flask import Blueprint

bp = Blueprint("patient", __name__)

from portal.patient import views  # noqa: E402,F401
