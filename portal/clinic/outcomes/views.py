"""Clinic outcomes (SPEC 5.4, 10 /clinic/outcomes): the report and its CSV export."""
from __future__ import annotations

import math

from flask import request
from flask_babel import gettext as _

from portal import clock, htmx, streaming
from portal.clinic import bp
from portal.clinic.outcomes import services as outcome_stats
from portal.clinic.outcomes.forms import OutcomeFilterForm
from portal.clinic.patients import services as search
from portal.forms import read_get_form
from portal.outcomes import STATUSES, UNKNOWN
from portal.security import me, staff_required
from portal.treatment import charts, display

_FIELDS = ("practitioner", "date_from", "date_to")


def _filters() -> tuple[OutcomeFilterForm, outcome_stats.OutcomeFilters | None, dict[str, str]]:
    """The filters in the address (GET): the form, the filters (None when invalid) and the
    query arguments that repeat them in links."""
    form = OutcomeFilterForm(request.args)
    form.set_choices(search.staff_choices())
    args, valid = read_get_form(form, _FIELDS)
    if not valid:
        return form, None, args
    filters = outcome_stats.OutcomeFilters(practitioner=form.practitioner.data or "",
                                           date_from=form.date_from.data,
                                           date_to=form.date_to.data)
    return form, filters, filters.as_args()


def _change_chart(result: outcome_stats.Outcomes) -> charts.Chart:
    """Mean change by session number, on an axis that always shows 0 and at least two
    points either side of it."""
    items = [charts.Item(m.number, None, round(m.mean_change, 2), m.label)
             for m in result.by_session]
    values = [item.value for item in items] or [0]
    y_min = min(-2, 2 * math.floor(min(values) / 2))
    y_max = max(2, 2 * math.ceil(max(values) / 2))
    return charts.line_chart("outcomes-change", items, baseline=0, y_min=y_min, y_max=y_max,
                             tick_every=1 if y_max - y_min <= 8 else 2)


def _status_labels() -> list[tuple[str, str]]:
    labels = [(status, display.status_label(status)) for status in STATUSES]
    # Every patient counted here has a rating: "unknown" can only mean no starting level.
    return [(s, _("No starting pain level") if s == UNKNOWN else label)
            for s, label in labels]


def _report_args(filters: outcome_stats.OutcomeFilters | None) -> dict[str, str]:
    """The shared report's address for the same period (its arguments are ``from`` and
    ``to``; it is the clinic's, whatever the practitioner chosen)."""
    if filters is None:
        return {}
    args = {"from": filters.date_from.isoformat() if filters.date_from else "",
            "to": filters.date_to.isoformat() if filters.date_to else ""}
    return {k: v for k, v in args.items() if v}


def _page(form, filters, args):
    result = outcome_stats.compute(filters) if filters is not None else None
    return htmx.render("clinic/outcomes.html", "clinic/_outcomes.html",
                       status=200 if filters is not None else 422, form=form, result=result,
                       chart=_change_chart(result) if result is not None else None,
                       search_args=args, cap=outcome_stats.SESSION_CAP,
                       report_args=_report_args(filters),
                       statuses=_status_labels())


@bp.route("/outcomes")
@staff_required
def outcomes():
    return _page(*_filters())


@bp.route("/outcomes.csv")
@staff_required
def outcomes_csv():
    """One row per patient, for the same filters; streamed, and audited before it starts.
    Invalid filters get the report with the errors by the fields."""
    form, filters, args = _filters()
    if filters is None:
        return _page(form, filters, args)
    outcome_stats.record_export(me(), filters)
    filename = f"outcomes-{clock.now():%Y%m%d-%H%M%S}.csv"
    return streaming.response(outcome_stats.outcomes_csv(filters), mimetype="text/csv",
                              headers={"Content-Disposition":
                                       f'attachment; filename="{filename}"'})
