from flask import Blueprint

bp = Blueprint("clinic", __name__)

from portal.clinic import views  # noqa: E402,F401
from portal.clinic import outcomes_views  # noqa: E402,F401
from portal.clinic import chart  # noqa: E402,F401
from portal.clinic import exports  # noqa: E402,F401
