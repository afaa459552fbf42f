"""All models, so that Flask-Migrate and the app see every table."""
from portal.models.audit import AuditEvent
from portal.models.clinic import ClinicSettings
from portal.models.document import DOCUMENT_KINDS, Document, StoredChunk
from portal.models.followup import FOLLOW_UP_STATUSES, FollowUp
from portal.models.intake import (
    INTAKE_STATUSES,
    ConsentDiscussion,
    ConsentSignature,
    IntakeAmendment,
    IntakeResponse,
    IntakeStash,
)
from portal.models.outbox import OutboxMessage
from portal.models.patient import (
    DISCHARGE_REASONS,
    DISPOSED,
    NO_FOLLOW_UP_REASONS,
    PATIENT_STATUSES,
    Patient,
)
from portal.models.rights import (
    DISPOSAL_STATUSES,
    REQUEST_CHANNELS,
    REQUEST_KINDS,
    REQUEST_OUTCOMES,
    PrivacyIncident,
    RecordDisposal,
    RecordRequest,
)
from portal.models.treatment import (
    OUTCOME_STATUSES,
    SORENESS_DURATIONS,
    OutcomePoint,
    SafetyReport,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
)
from portal.models.user import (
    ROLES,
    STAFF_ROLES,
    AccountToken,
    BrowserSession,
    RecoveryCode,
    User,
    UserSession,
)

__all__ = [
    "DISCHARGE_REASONS",
    "PATIENT_STATUSES",
    "ROLES",
    "STAFF_ROLES",
    "AccountToken",
    "AuditEvent",
    "BrowserSession",
    "ClinicSettings",
    "OutboxMessage",
    "Patient",
    "RecoveryCode",
    "User",
    "UserSession",
]
__all__ += ["DOCUMENT_KINDS", "Document", "StoredChunk"]
__all__ += [
    "INTAKE_STATUSES",
    "ConsentDiscussion",
    "ConsentSignature",
    "IntakeAmendment",
    "IntakeResponse",
    "IntakeStash",
]
__all__ += [
    "OUTCOME_STATUSES",
    "SORENESS_DURATIONS",
    "OutcomePoint",
    "SafetyReport",
    "SessionRating",
    "TreatmentOutcome",
    "TreatmentSession",
]

__all__ += ["DISPOSED", "FOLLOW_UP_STATUSES", "NO_FOLLOW_UP_REASONS", "FollowUp"]
__all__ += ["DISPOSAL_STATUSES", "REQUEST_CHANNELS", "REQUEST_KINDS", "REQUEST_OUTCOMES",
            "PrivacyIncident", "RecordDisposal", "RecordRequest"]

# Denormalised patient columns kept in step at every flush (registers an event listener).
from portal.models import sync as _sync  # noqa: E402,F401
