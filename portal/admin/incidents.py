"""The privacy incident register for admins (SPEC 11.2): the list (newest discovered first),
a new entry, an entry to read and correct, and the CSV of every entry. There is no route
that deletes an entry (portal.rights.incidents)."""
from __future__ import annotations

from datetime import datetime, time

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import clock, htmx, streaming
from portal.admin import bp
from portal.admin.incident_forms import IncidentForm
from portal.models import PrivacyIncident
from portal.rights import incidents
from portal.security import admin_required, me
from portal.treatment.times import (
    OCCURRENCES,
    WallClockGap,
    clinic_datetime_strict,
    is_repeated,
    to_clinic,
)

# What the admin reads beside a field the service refused (incidents.check's codes).
INCIDENT_ERRORS = {
    ("discovered_at", "future"): _l("The discovery cannot be in the future."),
    ("occurred_at", "future"): _l("When it happened cannot be in the future."),
    ("occurred_at", "after_discovery"): _l("It cannot have happened after it was "
                                           "discovered."),
    ("regulator_notified_at", "future"): _l("Enter this date once the regulator has been "
                                            "notified: it cannot be in the future."),
    ("regulator_notified_at", "before_discovery"): _l("The regulator cannot have been "
                                                      "notified before the discovery."),
    ("individuals_notified_at", "future"): _l("Enter this date once the people have been "
                                              "notified: it cannot be in the future."),
    ("individuals_notified_at", "before_discovery"): _l("The people cannot have been "
                                                        "notified before the discovery."),
    ("description", "required"): _l("Describe what happened."),
    ("records_affected", "required"): _l("Say whose records were involved."),
    ("risk_reasoning", "required"): _l("Explain why there is, or is not, a real risk of "
                                       "significant harm."),
    ("people_affected", "negative"): _l("Enter a number of people, 0 or more."),
}
# The form field that shows a service error about each of the entry's fields.
_ERROR_FIELD = {"discovered_at": "discovered_day", "occurred_at": "occurred_day",
                "regulator_notified_at": "regulator_day",
                "individuals_notified_at": "individuals_day"}


# A time the clinic's clock skipped or showed twice (times.WallClockGap), beside the time.
GAP_ERRORS = {
    "nonexistent": _l("The clocks went forward an hour on that day, so this time did not "
                      "exist there. Enter the time as the clock showed it."),
    "ambiguous": _l("The clocks went back an hour on that day, so this time came twice. "
                    "Choose below which of the two it was."),
}


def _moment(form: IncidentForm, name: str, keep: datetime | None):
    """The moment typed for ``name``; WallClockGap for a time the clock skipped, or showed
    twice with no choice of which (and not ``keep``'s own, sent back as shown)."""
    day_name, time_name = IncidentForm.MOMENTS[name]
    day, time_of_day = form[day_name].data, form[time_name].data
    if day is None or time_of_day is None:
        return None
    occurrence = form[IncidentForm.OCCURRENCE_FIELDS[name]].data
    if occurrence in OCCURRENCES and is_repeated(day, time_of_day):
        form.repeated = form.repeated | {name}
    return clinic_datetime_strict(day, time_of_day, keep=keep, occurrence=occurrence)


def _data(form: IncidentForm,
          known: dict[str, datetime | None]) -> incidents.IncidentData | None:
    """The entry as typed; None, with a message by each time the clock never showed or
    showed twice (and the choice of which of the two, then). ``known``: the moments already
    known (stored, or the new entry's "now"), kept when sent back as they were shown."""
    moments = {}
    for name, (_day, time_name) in IncidentForm.MOMENTS.items():
        try:
            moments[name] = _moment(form, name, known.get(name))
        except WallClockGap as gap:
            form[time_name].errors = [*form[time_name].errors, str(GAP_ERRORS[gap.kind])]
            if gap.kind == "ambiguous":
                form.repeated = form.repeated | {name}
    if len(moments) < len(IncidentForm.MOMENTS):
        return None
    return incidents.IncidentData(
        **moments,
        description=form.description.data or "", records_affected=form.records_affected.data or "",
        people_affected=form.people_affected.data, real_risk=form.real_risk.data == "yes",
        risk_reasoning=form.risk_reasoning.data or "", measures=form.measures.data)


def _stored(incident: PrivacyIncident) -> dict[str, datetime | None]:
    return {name: getattr(incident, name) for name in IncidentForm.MOMENTS}


def _show_refusal(form: IncidentForm, exc: incidents.IncidentInvalid) -> None:
    for name, code in exc.errors.items():
        target = form[_ERROR_FIELD.get(name, name)]
        target.errors = [*target.errors, str(INCIDENT_ERRORS[(name, code)])]


def _form_for(incident: PrivacyIncident) -> IncidentForm:
    form = IncidentForm(formdata=None)
    for name, (day_name, time_name) in IncidentForm.MOMENTS.items():
        moment = getattr(incident, name)
        if moment is not None:
            local = to_clinic(moment)
            form[day_name].data = local.date()
            form[time_name].data = local.time().replace(second=0, microsecond=0)
    for name in ("description", "records_affected", "people_affected", "risk_reasoning",
                 "measures"):
        form[name].data = getattr(incident, name)
    form.real_risk.data = "yes" if incident.real_risk else "no"
    form.version.data = incident.version
    return form


def _new_form() -> IncidentForm:
    """A new entry starts discovered now, on the clinic's wall clock."""
    form = IncidentForm(formdata=None)
    now = clock.now().replace(second=0, microsecond=0)
    local = to_clinic(now)
    form.discovered_day.data = local.date()
    form.discovered_time.data = time(local.hour, local.minute)
    form.prefilled_at.data = now.isoformat()
    return form


@bp.route("/incidents")
@admin_required
def incidents_register():
    page = incidents.register_page(after=request.args.get("after") or None)
    return htmx.render("admin/incidents.html", register=page,
                       first_page=not request.args.get("after"))


@bp.route("/incidents/new", methods=["GET", "POST"])
@admin_required
def incident_new():
    if request.method == "GET":
        return htmx.render("admin/incident_new.html", form=_new_form())
    form = IncidentForm()
    known = {"discovered_at": form.prefilled_at.data}
    if form.validate_on_submit() and (data := _data(form, known)) is not None:
        try:
            incident = incidents.record(me(), data)
        except incidents.IncidentInvalid as exc:
            _show_refusal(form, exc)
        else:
            flash(_("The incident is recorded in the register."), "success")
            return htmx.hx_redirect(url_for("admin.incident", public_id=incident.public_id))
    return htmx.render("admin/incident_new.html", status=422, form=form)


def _incident_page(incident: PrivacyIncident, form: IncidentForm, status: int = 200,
                   conflict: bool = False):
    return htmx.render("admin/incident.html", status=status, incident=incident, form=form,
                       patients=incidents.named_patients(incident.records_affected),
                       outstanding=incidents.is_outstanding(incident),
                       history=incidents.history(incident), conflict=conflict)


@bp.route("/incidents/<public_id>", methods=["GET", "POST"])
@admin_required
def incident(public_id: str):
    entry = incidents.get(public_id)
    if entry is None:
        abort(404)
    if request.method == "GET":
        return _incident_page(entry, _form_for(entry))
    form = IncidentForm()
    if form.validate_on_submit() and (data := _data(form, _stored(entry))) is not None:
        try:
            changed = incidents.update(me(), entry, data, form.version.data)
        except incidents.IncidentInvalid as exc:
            _show_refusal(form, exc)
        except incidents.IncidentConflict:
            # The entry as saved meanwhile is shown above the form, which keeps what this
            # admin typed: saving again, after comparing, replaces the newer version.
            entry = incidents.get(public_id) or abort(404)
            form.version.data = entry.version
            return _incident_page(entry, form, status=409, conflict=True)
        else:
            if changed:
                flash(_("The changes are saved. The version they replaced is kept in the "
                        "entry's history."), "success")
            else:
                flash(_("Nothing was changed."), "warning")
            return htmx.hx_redirect(url_for("admin.incident", public_id=entry.public_id))
    return _incident_page(entry, form, status=422)


@bp.route("/incidents.csv")
@admin_required
def incidents_csv():
    incidents.record_export(me())
    filename = f"privacy-incidents-{clock.now():%Y%m%d-%H%M%S}.csv"
    return streaming.response(incidents.incidents_csv(), mimetype="text/csv",
                              headers={"Content-Disposition":
                                       f'attachment; filename="{filename}"'})
