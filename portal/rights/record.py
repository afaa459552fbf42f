"""My record (SPEC 11.1): the hub of the patient's rights, and the two ways to take the
record: the readable page (printable, one document) and the FHIR bundle (Quebec Law 25,
s. 27: "a structured, commonly used technological format"; the same bundle as the staff's
export, portal.rights.fhir). Both need the account's password (portal.rights.confirm) and
are audited and entered in the requests register (portal.rights.access). Patients only, and
only their own record: there is no patient id in these URLs; staff get 404."""
from __future__ import annotations

import json

from flask import Response
from flask_babel import lazy_gettext as _l

from portal import htmx
from portal.documents import services as documents
from portal.documents.forms import kind_labels
from portal.i18n import current_locale
from portal.intake import bodymap
from portal.intake import consent as consents
from portal.intake.definitions import text
from portal.rights import access, bp, confirm, corrections, fhir, own_record
from portal.security import me, own_patient, patient_required
from portal.treatment import display
from portal.treatment import forms as treatment_forms


@bp.route("/me/record")
@patient_required
def record():
    patient = own_patient()
    signature = consents.signature(patient, consents.current_consent())
    latest = consents.latest_signature(patient) if signature is None else None
    return htmx.render("rights/record.html", patient=patient, consent_standing=signature,
                       consent_withdrawn=latest if latest and latest.withdrawn_at else None,
                       corrections=corrections.shown_requests(patient),
                       confirmed_until=confirm.confirmed_until(me()))


@bp.route("/me/record/page", methods=["GET", "POST"])
@patient_required
@confirm.password_confirmed(
    "record_page", _l("Open my record"),
    _l("Your record holds your health information. To be sure it is you, type the password "
       "you sign in with."))
def record_page():
    patient = own_patient()
    locale = current_locale()
    data = own_record.own_record(patient, locale)
    access.provided(patient, me(), "record_page")
    return htmx.render("rights/record_page.html", record=data, summary=data.summary,
                       locale=locale, text=text, bodymap=bodymap, display=display,
                       pgic_labels=dict(treatment_forms.pgic_labels()),
                       amendment_lines=own_record.amendment_lines(locale),
                       kind_labels=kind_labels(), today=documents.today())


@bp.route("/me/record/fhir.json", methods=["GET", "POST"])
@patient_required
@confirm.password_confirmed(
    "fhir_bundle", _l("Download my record (FHIR)"),
    _l("Your record holds your health information. To be sure it is you, type the password "
       "you sign in with; the download then starts."))
def record_fhir():
    patient = own_patient()
    bundle = fhir.bundle(patient, current_locale())
    # Registered and audited before the file leaves (as the staff's export is).
    access.provided(patient, me(), "fhir_bundle")
    filename = f"my-record-{patient.public_id}-fhir.json"
    return Response(json.dumps(bundle, ensure_ascii=False, indent=2),
                    content_type=fhir.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
