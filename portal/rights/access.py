"""A patient's own access to their record from "My record" (SPEC 11.1): each opening of the
readable page and each download of the FHIR bundle is audited and entered in the requests
register (SPEC 11.2) as an access request answered at once, so the register shows every
access the clinic gave, whether asked at the desk or taken in the portal (Ontario PHIPA
s. 52(1): the right of access; s. 54(2): the answer within 30 days, here at once; Quebec
Law 25, s. 27: a computerized record given "in a structured, commonly used technological
format", the FHIR bundle). Opening the same thing again on the same day (a reload, a second
look) is audited again but stays one request of the register: the register counts what the
patient asked for, the audit log every time it was given."""
from __future__ import annotations

from datetime import time

from sqlalchemy import select

from portal import audit, clock
from portal.extensions import db
from portal.models import Patient, RecordRequest, User
from portal.rights.dates import due_at_for
from portal.treatment.times import clinic_date, clinic_datetime

# What was given (RecordRequest.subject) -> the audit log's action.
SUBJECTS = {"record_page": "record.page_opened", "fhir_bundle": "record.fhir_downloaded"}


def provided(patient: Patient, user: User, subject: str) -> RecordRequest:
    """Register and audit one access given at once; the caller then shows or sends it.
    Committed here: the record does not leave before its trace is stored."""
    now = clock.now()
    row = db.session.scalar(
        select(RecordRequest)
        .where(RecordRequest.patient_id == patient.id, RecordRequest.kind == "access",
               RecordRequest.channel == "portal", RecordRequest.subject == subject,
               RecordRequest.received_at >= clinic_datetime(clinic_date(now), time(0)))
        .order_by(RecordRequest.id.desc()).limit(1))
    if row is None:
        row = RecordRequest(patient_id=patient.id, kind="access", channel="portal",
                            subject=subject, received_at=now, due_at=due_at_for(now),
                            answered_at=now, outcome="provided", created_by_id=user.id)
        db.session.add(row)
        db.session.flush()
    audit.write(SUBJECTS[subject], patient=patient, actor=user,
                detail={"request": row.public_id})
    db.session.commit()
    return row
