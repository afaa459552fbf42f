"""Columns of ``patients`` that repeat data held elsewhere, kept in step at every flush so
that the staff patient list searches and sorts on one table (SPEC 5.2, 8.5):

* ``search_text``: from the user's name and e-mail address and the patient's phone and
  date of birth (portal.searchtext);
* ``pain_change``: ``latest_nprs - baseline`` of the patient's TreatmentOutcome.

Any change made through the ORM is seen here, whichever feature makes it. Bulk inserts
(``flask seed-demo --patients N``) fill both columns themselves.
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.models.patient import Patient
from portal.models.treatment import TreatmentOutcome
from portal.models.user import User
from portal.searchtext import search_text


def _changed(obj, *names: str) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def pain_change(outcome: TreatmentOutcome) -> int | None:
    if outcome.baseline is None or outcome.latest_nprs is None:
        return None
    return outcome.latest_nprs - outcome.baseline


@event.listens_for(Session, "before_flush")
def _keep_patients_in_step(session: Session, _context, _instances) -> None:
    patients: set[Patient] = set()
    for obj in (*session.new, *session.dirty):
        is_new = obj in session.new
        if isinstance(obj, Patient):
            if is_new or _changed(obj, "phone", "date_of_birth", "user"):
                patients.add(obj)
        elif isinstance(obj, User):
            if obj.role == "patient" and (is_new or _changed(obj, "name", "email")):
                if obj.patient is not None:
                    patients.add(obj.patient)
        elif isinstance(obj, TreatmentOutcome):
            if is_new or _changed(obj, "baseline", "latest_nprs"):
                patient = obj.patient or session.get(Patient, obj.patient_id)
                change = pain_change(obj)
                if patient is not None and patient.pain_change != change:
                    patient.pain_change = change
    for patient in patients:
        user = patient.user
        if user is None:
            continue
        text = search_text(user.name, user.email, patient.phone, patient.date_of_birth)
        if patient.search_text != text:
            patient.search_text = text
