"""Patients' rights and the clinic's duties (SPEC 11): the patient's own record and its
downloads, correction requests, withdrawal of consent, account closure, the requests and
incident registers, and the retention schedule with disposal."""
from flask import Blueprint

bp = Blueprint("rights", __name__)

# Each part's views register on ``bp`` when imported (below, one line a part).
from portal.rights import (  # noqa: E402,F401
    closure_views,
    correction_answers,
    corrections,
    record,
    withdrawal_views,
)
