"""What a patient should do next (the /me/ home). Each feature adds its to-dos here, in
the order a patient should do them; the foundation has account items only."""
from __future__ import annotations

from dataclasses import dataclass, field

from portal.documents import services as documents
from portal.followups import services as followups
from portal.intake import consent as intake_consent
from portal.intake import services as intake
from portal.models import Patient
from portal.treatment import services as treatment


@dataclass
class Todo:
    key: str            # picks the wording in templates/patient/_todo.html
    endpoint: str       # where the patient does it
    optional: bool = False
    detail: dict = field(default_factory=dict)  # e.g. the intake's state and step


def todos(patient: Patient) -> list[Todo]:
    items: list[Todo] = []
    # Follow-up questions after discharge (SPEC 12.1), while their link is valid.
    for follow_up in followups.open_for(patient):
        items.append(Todo("follow_up", "followups.answer_signed_in",
                          detail={"public_id": follow_up.public_id, "weeks": follow_up.weeks,
                                  "until": follow_up.token_expires_at}))
    # Sessions to rate (SPEC 4.2) first: each has a closing date, and one whose rating
    # opens tomorrow says from when.
    for session in treatment.to_rate(patient):
        items.append(Todo("rate_session", "treatment.rate",
                          detail={"session_id": session.public_id,
                                  "treated_at": session.treated_at,
                                  "opens_at": session.rating_opens_at,
                                  "upcoming": treatment.rating_status(session) == "upcoming",
                                  "closes_at": treatment.closes_at(session)}))
    # The intake questionnaire (SPEC 2.3) first, with its state: shown even once sent.
    state = intake.state(patient)
    items.append(Todo("intake", "intake.resume",
                      detail={"state": state.state, "step": state.step, "steps": state.steps}))
    if state.state == "submitted" and not intake_consent.has_current_consent(patient):
        latest = intake_consent.latest_signature(patient)
        if latest is not None and latest.withdrawn_at is not None:
            # Their choice, kept: signing again is offered, never pressed on them.
            items.append(Todo("consent_withdrawn", "intake.consent", optional=True))
        else:
            items.append(Todo("consent", "intake.consent"))
    # The physician's clearance (SPEC 3), until one is accepted and valid.
    clearance = documents.clearance_state(patient)
    if not clearance.cleared:
        items.append(Todo(f"clearance_{clearance.state}", "documents.mine"))
    if not patient.user.mfa_enabled:
        items.append(Todo("mfa", "auth.mfa_setup", optional=True))
    return items
