"""The demo clinic's withdrawal of consent (SPEC 11.1): one of ``practitioner``'s patients,
cleared for IMS and not yet treated, withdrew their consent a few hours ago, with a reason;
no one has acknowledged it, so it waits on the worklist ("Consent withdrawn") and at the top
of the chart. Made through the portal's own service (audited; the practitioner's e-mail
queued). Safe to run again: a patient who withdrew already is kept as they are."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.models import ConsentSignature, Patient, User

REASON = "I would like to talk it over with my family doctor first."


def seed(practitioner: User, skip: tuple[str, ...] = ("patient@example.com",)) -> Patient | None:
    """The patient who withdrew (None when no patient of ``practitioner`` has a standing
    signature to withdraw). ``skip``: demo accounts whose story must not change."""
    already = db.session.scalar(
        select(Patient).join(ConsentSignature, ConsentSignature.patient_id == Patient.id)
        .where(Patient.practitioner_id == practitioner.id,
               ConsentSignature.withdrawal_reason == REASON))
    if already is not None:
        return already
    for patient in db.session.scalars(
            select(Patient).join(Patient.user)
            .where(Patient.practitioner_id == practitioner.id,
                   Patient.status.in_(("cleared", "intake_submitted")),
                   User.email.not_in(skip))
            .order_by(Patient.id)):
        row = consents.signature(patient, consents.current_consent())
        if row is None or not consents.withdraw(patient, row, REASON):
            continue
        # A few hours ago, after the signature.
        db.session.execute(update(ConsentSignature).where(ConsentSignature.id == row.id)
                           .values(withdrawn_at=clock.now() - timedelta(hours=3)))
        db.session.commit()
        return patient
    return None
