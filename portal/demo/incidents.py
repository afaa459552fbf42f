"""The demo clinic's privacy incident register (SPEC 11.2): one realistic entry, an
appointment summary e-mailed to the wrong address, judged a low risk with its reasoning and
the measures taken. Safe to run again: an entry already there is kept."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Patient, PrivacyIncident, User
from portal.rights import incidents

DESCRIPTION = (
    "The front desk e-mailed a patient's appointment summary (next appointment date and "
    "time, the practitioner's name, the clinic's address) to a former address of the "
    "patient's, typed from an old intake form. The person who received it replied the same "
    "day to say it was not theirs and that they had deleted it.")


def seed(admin: User, patient: Patient | None = None) -> PrivacyIncident:
    """The entry, recorded by ``admin`` (audited as any entry is) about ``patient``'s record
    when one is given; the existing entry when the demo already has it."""
    existing = db.session.scalar(select(PrivacyIncident)
                                 .where(PrivacyIncident.description == DESCRIPTION))
    if existing is not None:
        return existing
    discovered = clock.now().replace(second=0, microsecond=0) - timedelta(days=12, hours=3)
    whose = patient.public_id if patient is not None else "One patient (appointment summary)"
    return incidents.record(admin, incidents.IncidentData(
        discovered_at=discovered,
        occurred_at=discovered - timedelta(hours=2, minutes=15),
        description=DESCRIPTION,
        records_affected=whose,
        people_affected=1,
        real_risk=False,
        risk_reasoning=(
            "Sensitivity: low. The summary held no diagnosis, treatment notes or health "
            "numbers, only an appointment time and the clinic's name and address. "
            "Probability of misuse: low. It went to one private person, who told us at once "
            "and confirmed in writing that it was deleted. No real risk of significant harm "
            "(PIPEDA s. 10.1(8)), so no report to the Commissioner; the patient was told "
            "anyway as a courtesy."),
        measures=(
            "The e-mail address on file was corrected with the patient. The recipient's "
            "written confirmation of deletion is kept with the clinic's records. Front-desk "
            "staff now read the address back to the patient before sending a summary.")))
