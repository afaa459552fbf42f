"""All models, so that Flask-Migrate and the app see every table."""
from portal.models.audit import AuditEvent
from portal.models.clinic import ClinicSettings
from portal.models.document import DOCUMENT_KINDS, Document, StoredChunk
from portal.models.intake import (INTAKE_STATUSES, ConsentSignature, IntakeAmendment,
                                  IntakeResponse, IntakeStash)
from portal.models.outbox import OutboxMessage
from portal.models.patient import DISCHARGE_REASONS, PATIENT_STATUSES, Patient
from portal.models.treatment import (OUTCOME_STATUSES, SORENESS_DURATIONS, OutcomePoint,
                                     SessionRating, TreatmentOutcome, TreatmentSession)
from portal.models.user import (ROLES, STAFF_ROLES, AccountToken, RecoveryCode, User,
                                UserSession)

__all__ = ["AuditEvent", "ClinicSettings", "OutboxMessage", "Patient", "PATIENT_STATUSES",
           "DISCHARGE_REASONS",
           "User", "AccountToken", "UserSession", "RecoveryCode", "ROLES", "STAFF_ROLES"]
__all__ += ["Document", "DOCUMENT_KINDS", "StoredChunk"]
__all__ += ["IntakeResponse", "IntakeAmendment", "IntakeStash", "ConsentSignature",
            "INTAKE_STATUSES"]
__all__ += ["TreatmentSession", "SessionRating", "TreatmentOutcome", "OutcomePoint",
            "OUTCOME_STATUSES", "SORENESS_DURATIONS"]

# Denormalised patient columns kept in step at every flush (registers an event listener).
from portal.models import sync as _sync  # noqa: E402,F401
