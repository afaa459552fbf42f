"""The patient chart's frame (SPEC 5.3): the header and the tab list around each tab's panel.

Every tab is its own address, drawn by its own feature's view (the intake, documents and
sessions tabs belong to those features, the others to the clinic). This module sits below
all of them so that each can draw its tab; what the header shows (flags, clearance,
consent, outcome, the discharge form) is the clinic's, which hands it over at start-up
through ``set_frame`` instead of being imported from here. Each view renders through
``render()``: a plain request (a link, a bookmark, the back button's history restore) gets
the whole chart; an htmx request from a tab link gets the panel alone, which htmx swaps
into ``#chart-panel``. Which of the two is decided by portal.htmx, never by a request
parameter. The tab list, the panel heading and the title follow in static/js/chart.js.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app
from flask.sansio.app import App
from flask_babel import lazy_gettext as _l

from portal import htmx
from portal.models import Patient

# The header's context for the whole page: (patient, the discharge form with its errors, or
# None for a fresh one) -> template variables.
FrameContext = Callable[[Patient, Any], dict[str, Any]]


@dataclass(frozen=True)
class Tab:
    key: str
    endpoint: str
    label: str


TABS = (
    Tab("summary", "clinic.chart", _l("Summary")),
    Tab("intake", "intake.staff_view", _l("Intake")),
    Tab("documents", "documents.patient_documents", _l("Documents")),
    Tab("sessions", "treatment.patient_sessions", _l("Sessions")),
    Tab("ratings", "clinic.chart_ratings", _l("Ratings")),
    Tab("activity", "clinic.chart_activity", _l("Activity")),
)
_BY_KEY = {tab.key: tab for tab in TABS}


def set_frame(app: App, frame: FrameContext) -> None:
    app.extensions["chart_frame"] = frame


def add_to_tab(app: App, tab: str, extra: Callable[[Patient], dict[str, Any]]) -> None:
    """What a feature shows in another feature's tab (the correction requests waiting, on
    the intake tab), handed over at start-up as the header is: ``extra(patient)`` gives the
    panel's template variables, on the whole page and on an htmx tab switch alike."""
    app.extensions.setdefault("chart_tab_extras", {}).setdefault(tab, []).append(extra)


def render(tab: str, page: str, fragment: str, *, patient: Patient, status: int = 200,
           discharge_form: Any = None, **ctx) -> Response:
    """Tab ``tab`` of ``patient``'s chart: ``page`` (which extends
    clinic/chart/_layout.html) or, for an htmx tab switch, ``fragment`` (the panel's
    content; the page includes it). The header is only worked out for the whole page."""
    for extra in current_app.extensions.get("chart_tab_extras", {}).get(tab, ()):
        ctx.update(extra(patient))
    if not htmx.wants_fragment():
        ctx.update(current_app.extensions["chart_frame"](patient, discharge_form),
                   chart_tabs=TABS, chart_tab=_BY_KEY[tab])
    return htmx.render(page, fragment, status=status, patient=patient, **ctx)
