"""The intake's rules (SPEC 2), one module per subject; this module gathers what the views,
the other features and the tests call, so that ``services.X`` keeps naming the rule
wherever it lives:

* ``responses``: the questionnaire version a patient answers, where they are, the answers,
  scores and flags with the amendments applied;
* ``saving``: saving a step with the stale-tab check, signing the consent step;
* ``stash``: keeping what was typed across an expired sign-in;
* ``submission``: submitting exactly once, telling the practitioners;
* ``amendments``: corrections after submission, signing a newer consent;
* ``staff``: the practitioner's reading and review.

Functions take plain values and commit; the views hold the request.
"""
from __future__ import annotations

from portal.intake.amendments import AmendResult, amend, intake_amended, sign_current_consent
from portal.intake.responses import (
    DEFAULT_QUESTIONNAIRE,
    IntakeState,
    amended_questions,
    current_definition,
    definition_for,
    effective_answers,
    effective_flags,
    effective_scores,
    missing_answers,
    psfs_activities,
    questionnaire_key,
    response_for,
    signed_versions,
    state,
    submitted_response,
    today,
    with_changes,
)
from portal.intake.saving import SaveResult, save_step
from portal.intake.staff import (
    REVIEW_NOTE_MAX,
    REVIEW_NOTE_MIN,
    ReviewNoteNeeded,
    count_new_intakes,
    mark_reviewed,
    new_intakes,
    record_view,
)
from portal.intake.stash import (
    STASH_TTL,
    Stashed,
    discard_stash,
    patient_by_user_public_id,
    stash,
    stashed,
    stashed_step,
)
from portal.intake.submission import SubmitResult, record_contact, staff_to_notify, submit

__all__ = [
    "DEFAULT_QUESTIONNAIRE",
    "REVIEW_NOTE_MAX",
    "REVIEW_NOTE_MIN",
    "STASH_TTL",
    "AmendResult",
    "IntakeState",
    "ReviewNoteNeeded",
    "SaveResult",
    "Stashed",
    "SubmitResult",
    "amend",
    "amended_questions",
    "count_new_intakes",
    "current_definition",
    "definition_for",
    "discard_stash",
    "effective_answers",
    "effective_flags",
    "effective_scores",
    "intake_amended",
    "mark_reviewed",
    "missing_answers",
    "new_intakes",
    "patient_by_user_public_id",
    "psfs_activities",
    "questionnaire_key",
    "record_contact",
    "record_view",
    "response_for",
    "save_step",
    "sign_current_consent",
    "signed_versions",
    "staff_to_notify",
    "stash",
    "stashed",
    "stashed_step",
    "state",
    "submit",
    "submitted_response",
    "today",
    "with_changes",
]
