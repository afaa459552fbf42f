"""The patient chart's frame (SPEC 5.3): the header and the tab list around each tab's panel.

Every tab is its own address, drawn by its own feature's view (the intake, documents and
sessions tabs belong to those features). Each view renders through ``render()``: a plain
request (a link, a bookmark, the back button's history restore) gets the whole chart; an
htmx request from a tab link gets the panel alone, which htmx swaps into ``#chart-panel``.
Which of the two is decided by portal.htmx, never by a request parameter. The tab list,
the panel heading and the title follow in static/js/chart.js.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from flask_babel import lazy_gettext as _l

from portal import htmx
from portal.clinic import chart_data
from portal.clinic.chart_forms import DischargeForm
from portal.forms import EmptyForm
from portal.models import Patient


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


def render(tab: str, page: str, fragment: str, *, patient: Patient, status: int = 200,
           discharge_form: DischargeForm | None = None, **ctx) -> Response:
    """Tab ``tab`` of ``patient``'s chart: ``page`` (which extends
    clinic/chart/_layout.html) or, for an htmx tab switch, ``fragment`` (the panel's
    content; the page includes it). The header is only worked out for the whole page."""
    if not htmx.wants_fragment():
        ctx.update(chart=chart_data.header(patient), chart_tabs=TABS,
                   chart_tab=_BY_KEY[tab],
                   discharge_form=discharge_form or DischargeForm(formdata=None),
                   chart_action_form=EmptyForm())
    return htmx.render(page, fragment, status=status, patient=patient, **ctx)
