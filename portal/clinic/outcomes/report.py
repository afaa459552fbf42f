"""The printable clinic outcomes report (SPEC 12.1, 5.4; /clinic/outcomes/report): one page
for referrers and insurers, for a period. It shows what the outcomes page shows for the same
period, from the same service (``services.compute``), so the two cannot disagree: the
responder rate, the mean change in pain by session number and the improvement kept at each
follow-up delay, with the number of patients behind each figure and how each is defined. No
name, no id: only counts. Staff only; the browser's Print command makes the paper or PDF
(static/css/print.css keeps it to one A4 or Letter page)."""
from __future__ import annotations

from flask import request

from portal import audit, clock, htmx
from portal.clinic import bp
from portal.clinic.outcomes import services as outcome_stats
from portal.clinic.outcomes.forms import ReportPeriodForm
from portal.extensions import db
from portal.forms import read_get_form
from portal.security import me, staff_required
from portal.treatment.times import clinic_date


def report_filters() -> tuple[ReportPeriodForm, outcome_stats.OutcomeFilters | None]:
    """The period in the address (``from``, ``to``): the form, and the filters (None when
    invalid). No practitioner: the report is the clinic's."""
    form = ReportPeriodForm(request.args)
    _args, valid = read_get_form(form, ("from", "to"))
    if not valid:
        return form, None
    return form, outcome_stats.OutcomeFilters(date_from=form.date_from.data,
                                              date_to=form.date_to.data)


@bp.route("/outcomes/report")
@staff_required
def outcomes_report():
    form, filters = report_filters()
    result = outcome_stats.compute(filters) if filters is not None else None
    if filters is not None:
        # Counts only, but what was shared and for which period is worth a trace.
        audit.write("outcomes.report_viewed", actor=me(), detail=filters.as_args() or None)
        db.session.commit()
    return htmx.render("clinic/outcomes_report.html", status=200 if result is not None else 422,
                       form=form, filters=filters, result=result,
                       today=clinic_date(clock.now()), cap=outcome_stats.SESSION_CAP)
