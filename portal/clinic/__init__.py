from flask import Blueprint

bp = Blueprint("clinic", __name__)

# The views register their routes on ``bp``, so they are imported after it exists.
from portal.clinic import chart, exports, outcomes_views, views  # noqa: E402,F401
