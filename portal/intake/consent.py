"""The clinic's consent to IMS: which version is current, who signed what (SPEC 2.3 step 6).

``has_current_consent(patient)`` is the one answer to "may this patient be treated, as far
as consent goes?": the treatment feature asks it before a session is recorded (SPEC 4.1).
A signature counts only for the version it was given for, so publishing a new version of
the consent text asks every patient to sign again.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit, clock
from portal.extensions import db
from portal.intake.definitions import Consent, registry
from portal.models import ConsentSignature, IntakeResponse, Patient

DEFAULT_CONSENT = "ims_consent"


@dataclass
class Client:
    """Where a signature or a save came from (the view fills this from the request)."""
    ip: str | None = None
    user_agent: str | None = None


def consent_key() -> str:
    """The consent the current intake asks patients to sign."""
    from portal.intake.services import current_definition
    return current_definition().consent_key or current_app.config.get("INTAKE_CONSENT",
                                                                      DEFAULT_CONSENT)


def current_consent() -> Consent:
    return registry().consent(consent_key())


def signature(patient: Patient, consent: Consent) -> ConsentSignature | None:
    return db.session.scalar(select(ConsentSignature).where(
        ConsentSignature.patient_id == patient.id,
        ConsentSignature.consent_key == consent.key,
        ConsentSignature.consent_version == consent.version))


def latest_signature(patient: Patient) -> ConsentSignature | None:
    return db.session.scalar(select(ConsentSignature)
                             .where(ConsentSignature.patient_id == patient.id)
                             .order_by(ConsentSignature.signed_at.desc(),
                                       ConsentSignature.id.desc()).limit(1))


def signatures(patient: Patient) -> list[ConsentSignature]:
    """Every consent the patient signed, newest first (the staff view's consent record)."""
    return list(db.session.scalars(select(ConsentSignature)
                                   .where(ConsentSignature.patient_id == patient.id)
                                   .order_by(ConsentSignature.signed_at.desc(),
                                             ConsentSignature.id.desc())))


def has_current_consent(patient: Patient) -> bool:
    """True when the patient has signed the current version of the clinic's consent."""
    return signature(patient, current_consent()) is not None


def sign(patient: Patient, consent: Consent, name: str, locale: str, client: Client,
         response: IntakeResponse | None = None) -> ConsentSignature:
    """Record a signature in the caller's transaction; signing the same version twice keeps
    the first signature (the one the patient gave first)."""
    existing = signature(patient, consent)
    if existing is not None:
        return existing
    row = ConsentSignature(patient_id=patient.id, response_id=response.id if response else None,
                           consent_key=consent.key, consent_version=consent.version,
                           text_sha256=consent.sha256(locale), locale=locale,
                           typed_name=name[:200], signed_at=clock.now(),
                           ip=(client.ip or None) and client.ip[:45],
                           user_agent=(client.user_agent or "")[:255] or None)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # the same patient signing in two tabs at once
        first = signature(patient, consent)
        if first is None:  # the insert failed for another reason
            raise
        return first
    audit.write("consent.signed", patient=patient, actor=patient.user,
                subject=f"{consent.key} v{consent.version}")
    return row


def answer(row: ConsentSignature) -> dict:
    """What the signature question stores in the intake answers."""
    return {"name": row.typed_name, "consent_key": row.consent_key,
            "consent_version": row.consent_version, "sha256": row.text_sha256,
            "locale": row.locale}
