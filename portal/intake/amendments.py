"""Corrections after the intake was sent (SPEC 2.6), and signing a newer consent."""
from __future__ import annotations

from dataclasses import dataclass, field

from blinker import Namespace

from portal import audit, clock
from portal.extensions import db
from portal.intake import answers as rules
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.definitions import Question
from portal.intake.questionnaires import scoring
from portal.intake.responses import (
    clinic_date,
    definition_for,
    effective_answers,
    effective_flags,
    response_for,
    with_changes,
)
from portal.intake.submission import record_contact
from portal.intake.types import StepInput
from portal.models import IntakeAmendment, IntakeResponse, Patient, User


@dataclass
class AmendResult:
    amendment: IntakeAmendment | None = None
    unchanged: bool = False
    missing: list[Question] = field(default_factory=list)


_signals = Namespace()
# Sent by amend() with the patient, inside its transaction: what other features derive from
# the intake (the treatment outcome's baseline) is brought up to date in the same commit.
intake_amended = _signals.signal("intake-amended")


def amend(patient: Patient, author: User, response: IntakeResponse, step_no: int,
          data: StepInput, reason: str, commit: bool = True) -> AmendResult:
    """A correction after submission (SPEC 2.6): the original stays, the amendment holds
    what changed. The patient's correction sends the intake back on the practitioner's list
    to review; a practitioner's (a correction request they accept) keeps the review they or
    a colleague made, unless it raises a red flag the intake did not have (``_needs_review``).
    ``commit=False``: the caller commits, with what else it does in the same transaction."""
    definition = definition_for(response)
    before = effective_answers(response)
    after = with_changes(definition, step_no, before, data.values)
    changed = [q.id for q in definition.questions_of(step_no)
               if after.get(q.id) != before.get(q.id)]
    if not changed:
        return AmendResult(unchanged=True)
    missing = rules.missing(definition, after, None, step=step_no)
    if missing:
        return AmendResult(missing=missing)
    # Ages stay judged on the day the intake was sent, whatever the correction is.
    assert response.submitted_at is not None  # only sent intakes are amended
    raised = flag_rules.compute(definition, after, clinic_date(response.submitted_at))
    needs_review = _needs_review(author, response, raised)
    now = clock.now()
    amendment = IntakeAmendment(response=response, step=step_no, created_at=now,
                                author_id=author.id, reason=reason,
                                changes={qid: after.get(qid) for qid in changed},
                                previous={qid: before.get(qid) for qid in changed},
                                scores=scoring.compute(definition, after), flags=raised)
    db.session.add(amendment)
    for column, value in flag_rules.counts(raised).items():
        setattr(response, column, value)
    if needs_review:
        response.reviewed_at = None
        response.reviewed_by_id = None
        response.review_note = None
    response.updated_at = now
    patient.last_activity_at = now
    record_contact(patient, definition, after)
    audit.write("intake.amended", patient=patient, actor=author, subject=response.public_id,
                detail={"step": step_no})
    intake_amended.send(patient)
    if commit:
        db.session.commit()
    return AmendResult(amendment=amendment)


def _red_flags(flags: list[dict]) -> set[str]:
    return {f["code"] for f in flags if f["kind"] == "red_flag"}


def _needs_review(author: User, response: IntakeResponse, raised: list[dict]) -> bool:
    """Whether an amendment sends the intake back to review (before it is added: the flags
    it compares with are the intake's as they stand). A patient's always does: what they
    changed is news to the clinic. A practitioner's does only when it raises a red flag
    the intake did not have, which a review (and, before IMS, the treatment gate) must
    see; otherwise the practitioner made the change knowingly, and sending the intake back
    would close the gate of a patient whose red flags were already reviewed."""
    if not author.is_staff:
        return True
    return bool(_red_flags(raised) - _red_flags(effective_flags(response)))

def sign_current_consent(patient: Patient, name: str, locale: str,
                         client: consents.Client) -> None:
    """A new consent version, signed after the intake was sent (from the patient's home)."""
    consents.sign(patient, consents.current_consent(), name, locale, client,
                  response_for(patient))
    patient.last_activity_at = clock.now()
    db.session.commit()
