"""The patient's correction requests (SPEC 11.1): ask, with the account's password (a shared
phone is common), and read the answers. The requests and their answers are also shown on
"My record" (templates/rights/_corrections.html, given ``shown_requests`` as
``corrections`` by both pages' views)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import flash, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal import htmx
from portal.intake import display
from portal.models import Patient, RecordRequest
from portal.rights import bp, confirm, correcting
from portal.rights.correction_forms import CorrectionRequestForm
from portal.security import me, own_patient, patient_required


@dataclass
class Shown:
    """One request as the patient reads it: what it is about, and the new answer when it
    was amended (the lines of the amended value, as the intake shows them)."""
    request: RecordRequest
    about: str | None
    new_answer: list[str]

    @property
    def due(self) -> datetime:
        return self.request.due


def shown_requests(patient: Patient) -> list[Shown]:
    locale = str(get_locale())
    out = []
    for req in correcting.requests_of(patient):
        question = correcting.subject_question(patient, req.subject)
        new_answer: list[str] = []
        if question is not None and req.amendment is not None \
                and question.id in req.amendment.changes:
            new_answer = display.lines(question, req.amendment.changes[question.id], locale)
        about = correcting.subject_label(patient, req.subject, locale) if question else None
        out.append(Shown(req, about, new_answer))
    return out


def _page(form: CorrectionRequestForm, patient: Patient, status: int = 200):
    return htmx.render("rights/correction_new.html", status=status, form=form, patient=patient,
                       corrections=shown_requests(patient),
                       has_intake=len(form.subject.choices or []) > 1)


@bp.route("/me/record/correction", methods=["GET", "POST"])
@patient_required
def correction_new():
    patient = own_patient()
    form = CorrectionRequestForm()
    form.set_choices(correcting.question_choices(patient, str(get_locale())))
    if not form.is_submitted():
        return _page(form, patient)
    if not confirm.check_form(form, me(), "correction_request"):
        form.password.data = ""
        return _page(form, patient, status=422)
    correcting.request_correction(patient, me(), form.chosen_subject(), form.detail.data)
    flash(_("Your request is sent. Your clinic answers within 30 days; you will get an "
            "e-mail when it does."), "success")
    return htmx.hx_redirect(url_for("rights.correction_new", _anchor="my-corrections"))
