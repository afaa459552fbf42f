"""Per-patient exports (SPEC 5.5): the record as a FHIR R4 Bundle, and a printable summary.
Both are views of the record: audited (SPEC 7.1), never cached."""
from __future__ import annotations

import json

from flask import Response
from flask_login import current_user

from portal import audit, htmx
from portal.clinic import bp
from portal.clinic.chart import record_summary
from portal.extensions import db
from portal.i18n import current_locale
from portal.rights import fhir
from portal.security import me, patient_for, staff_required
from portal.treatment import display
from portal.treatment import forms as treatment_forms


@bp.route("/patients/<patient_id>/fhir.json")
@staff_required
def patient_fhir(patient_id: str):
    patient = patient_for(current_user, patient_id)
    bundle = fhir.bundle(patient, current_locale())
    # The export is an event of the audit log, stored before the file leaves.
    audit.write("patient.exported", patient=patient, detail={"format": "fhir-r4"})
    db.session.commit()
    filename = f"patient-{patient.public_id}-fhir.json"
    return Response(json.dumps(bundle, ensure_ascii=False, indent=2),
                    content_type=fhir.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.route("/patients/<patient_id>/summary")
@staff_required
def patient_summary_print(patient_id: str):
    patient = patient_for(current_user, patient_id)
    summary = record_summary.summary(patient)
    record_summary.record_view(me(), patient)
    return htmx.render("clinic/patient_summary.html", summary=summary,
                       pgic_labels=dict(treatment_forms.pgic_labels()), display=display)
