"""Follow-ups after discharge (SPEC 12): scheduled at discharge, e-mailed by the worker with
one reminder, answered by a link without signing in, declined with one click."""
from flask import Blueprint

bp = Blueprint("followups", __name__)

# The views register on ``bp`` when imported (below).
from portal.followups import views  # noqa: E402,F401
