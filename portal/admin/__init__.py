from flask import Blueprint

bp = Blueprint("admin", __name__)

from portal.admin import incidents, requests_views, retention, views  # noqa: E402,F401
