"""The treatment feature's services (SPEC 4), one module per subject; this module gathers
what the views, the other features and the tests call, so that ``services.X`` keeps naming
the rule wherever it lives:

* ``times``: the refusals (errors), session times on the clinic's clock, the rating window;
* ``records``: reading sessions and ratings, a session's number in its course;
* ``sessions``: the clearance and consent gate, recording, correcting, cancelling;
* ``ratings``: the patient's rating, its window and edits;
* ``reminders``: reminding and closing (the worker's schedule);
* ``outcome``: the baseline, the stored outcome and its points, progress.

The rules and the commits live there; nothing reads the request.
"""
from __future__ import annotations

from portal.treatment.intake_link import pain_regions
from portal.treatment.outcome import (
    Progress,
    baseline_for,
    baseline_override,
    progress,
    rated_sessions,
    refresh_outcome,
    set_baseline,
)
from portal.treatment.ratings import (
    RatingInput,
    can_edit,
    can_rate,
    overdue_clause,
    rating_status,
    save_rating,
    to_rate,
)
from portal.treatment.records import (
    last_regions,
    numbers,
    psfs_activities_for,
    rating_by_public_id,
    session_by_public_id,
    session_number,
    sessions_for,
)
from portal.treatment.reminders import send_reminders
from portal.treatment.sessions import (
    Gate,
    SessionInput,
    cancel_session,
    correct_session,
    gate,
    record_session,
    record_sessions_view,
)
from portal.treatment.times import (
    GATES,
    OVERRIDE_REASON_MIN,
    PSFS_EVERY,
    GateRefused,
    TreatmentError,
    clinic_date,
    clinic_datetime,
    closes_at,
    editable_until,
    rating_opens_for,
    to_clinic,
)

__all__ = [
    "GATES", "OVERRIDE_REASON_MIN", "PSFS_EVERY", "Gate", "GateRefused", "Progress",
    "RatingInput", "SessionInput",
    "TreatmentError", "baseline_for", "baseline_override", "can_edit", "can_rate",
    "cancel_session", "clinic_date", "clinic_datetime", "closes_at", "correct_session",
    "editable_until", "gate", "last_regions", "numbers", "overdue_clause", "pain_regions",
    "progress", "psfs_activities_for", "rated_sessions", "rating_by_public_id",
    "rating_opens_for", "rating_status",
    "record_session", "record_sessions_view", "refresh_outcome", "save_rating",
    "send_reminders", "session_by_public_id", "session_number", "sessions_for",
    "set_baseline", "to_clinic", "to_rate",
]
