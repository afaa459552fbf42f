"""Follow-ups after discharge for generated patients (SPEC 12.1): one per delay the clinic
set, as the discharge would have scheduled them, answered by about seven in ten patients a
few days after they fell due, so that the outcomes page shows "improvement kept at 6 / 12
weeks" with the bulk demo.

Nothing here draws from the generator's ``random.Random``: every choice comes from a digest
of the patient's public id and the delay, so adding follow-ups changed none of the patients
the same seed gave before, and the same seed still gives the same follow-ups. The pain at
follow-up is the pain at discharge, or a point or two above it for some (it often creeps
back); "kept" is portal.outcomes' improvement rule on it, as the answering service does."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from portal import outcomes
from portal.demo.bulk.draws import Plan
from portal.models import NO_FOLLOW_UP_REASONS

# As portal/followups: the link works four weeks, the one reminder goes a week after.
LINK_VALID_FOR = timedelta(days=28)
REMINDER_AFTER = timedelta(days=7)


def _digest(plan: Plan, weeks: int) -> bytes:
    return hashlib.sha256(f"{plan.patient['public_id']}:{weeks}".encode()).digest()


def plan_follow_ups(plan: Plan, weeks: list[int], now: datetime) -> None:
    """Add ``plan.follow_ups`` for a discharged plan (its ``discharged_at`` and outcome
    set)."""
    patient, outcome = plan.patient, plan.outcome or {}
    discharged = patient.get("discharged_at")
    if discharged is None or patient.get("discharge_reason") in NO_FOLLOW_UP_REASONS:
        return
    baseline, latest = outcome.get("baseline"), outcome.get("latest_nprs")
    for n, w in enumerate(weeks):
        digest = _digest(plan, w)
        due = discharged + timedelta(weeks=w)
        row: dict[str, Any] = {
            "public_id": base64.urlsafe_b64encode(digest[:12]).decode(),
            "discharged_at": discharged, "weeks": w, "due_at": due, "status": "scheduled",
            "baseline": baseline,
            "improved_at_discharge": outcome.get("status") == outcomes.IMPROVED,
            "created_at": discharged}
        if due <= now:
            row.update(status="sent", sent_at=due, token_expires_at=due + LINK_VALID_FOR)
            # Most answer within a few days of the e-mail, some after the reminder.
            answered_at = due + timedelta(days=1 + digest[1] % 10, hours=digest[2] % 12)
            answers = digest[0] % 10 < 7 and answered_at <= now
            if due + REMINDER_AFTER <= (answered_at if answers else now):
                row["reminded_at"] = due + REMINDER_AFTER
            if answers and latest is not None:
                creep = int(digest[3] % 3 == 0) + int(n > 0 and digest[4] % 2 == 1)
                pain = min(10, latest + creep)
                kept = outcomes.nprs_improved(baseline, pain) if baseline is not None else None
                row.update(status="answered", answered_at=answered_at, pain_average=pain,
                           pgic=2 if kept else (1 if pain <= latest else 0), kept=kept)
        plan.follow_ups.append(row)
