"""The consent discussion (SPEC 4.1), recorded from the chart's header: the second part of
informed consent. The patient's e-signature acknowledges the written text; the practitioner
records that the risks, benefits and alternatives were explained, the patient's questions
answered and that the patient agrees ("informed consent is a conversation, not a form":
College of Physiotherapists of Alberta, "Good Practice: Consent in Practice",
https://www.cpta.ab.ca/news-and-updates/news/good-practice-consent-in-practice/; CLINICAL.md,
"Dry needling / IMS precautions and consent").

Without JavaScript the form posts, and comes back in the chart with its errors by the fields,
or redirects to the chart. With htmx the form alone is swapped on errors (422), and the
chart is loaded again on success (portal.htmx)."""
from __future__ import annotations

from flask import flash, url_for
from flask_babel import gettext as _

from portal import htmx
from portal.clinic import bp
from portal.clinic.chart import views as chart_views
from portal.clinic.chart.forms import ConsentDiscussionForm
from portal.intake import consent as consents
from portal.models import ConsentSignature, Patient
from portal.security import me, staff_required
from portal.treatment import display
from portal.treatment import services as treatment


def error_text(error: consents.DiscussionError, row: ConsentSignature) -> str:
    return {"future": _("The discussion cannot be in the future."),
            "before_signature": _("The discussion cannot be before the patient signed the "
                                  "consent (%(when)s).", when=display.moment(row.signed_at)),
            "no_signature": _("The patient has no signed consent to discuss.")}[error.code]


def _invalid(patient: Patient, form: ConsentDiscussionForm):
    if htmx.wants_fragment():
        return htmx.render("clinic/chart/_consent_discussion.html", status=422,
                           patient=patient, consent_form=form,
                           chart={"consent": consents.state(patient)})
    return chart_views._summary(patient, status=422, discharge_form=form)


@bp.route("/patients/<patient_id>/consent-discussion", methods=["POST"])
@staff_required
def chart_consent_discussion(patient_id: str):
    patient = chart_views._patient(patient_id)
    form = ConsentDiscussionForm()
    if not form.validate_on_submit():
        return _invalid(patient, form)
    # The signature is the patient's standing one, found here: the form names none, so it
    # cannot point at another patient's.
    row = consents.signature(patient, consents.current_consent())
    if row is None:
        flash(_("The patient has no signed consent to discuss."), "warning")
        return chart_views._back_to_chart(patient)
    try:
        consents.record_discussion(patient, row, me(),
                                   treatment.clinic_datetime(form.day.data, form.time.data),
                                   form.note.data)
    except consents.DiscussionError as exc:
        form.day.errors = [error_text(exc, row)]
        return _invalid(patient, form)
    flash(_("The consent discussion is recorded."), "success")
    return htmx.hx_redirect(url_for("clinic.chart", patient_id=patient.public_id))
