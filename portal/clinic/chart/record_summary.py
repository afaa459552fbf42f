"""The printable summary of a patient's record (SPEC 5.5): what a practitioner hands to a
physician or files on paper, on one page. The record is read by portal.rights.summary (the
patient's own record page reads it too); the staff's page adds the patient's status."""
from __future__ import annotations

from typing import cast

from portal import audit
from portal.clinic.patients.services import STATUS_LABELS
from portal.extensions import db
from portal.models import Patient, User
from portal.rights import summary as record


class Summary(record.Summary):
    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.patient.status, self.patient.status))


def summary(patient: Patient) -> Summary:
    return cast(Summary, record.summary(patient, cls=Summary))


def record_view(viewer: User, patient: Patient) -> None:
    """A printed summary is a view of the record (SPEC 7.1)."""
    audit.write("summary.viewed", patient=patient, actor=viewer)
    db.session.commit()
