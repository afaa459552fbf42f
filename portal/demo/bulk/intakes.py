"""The generated intakes: part saved, or submitted and signed, with their scores and flags
(red flags for some), reviewed or waiting."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from portal.demo import intake as intake_demo
from portal.demo.bulk.draws import Draws, Plan
from portal.demo.bulk.people import Accounts
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake import services as intake
from portal.intake.questionnaires import scoring
from portal.intake.responses import clinic_date


class Intakes:
    """Answers to the current intake, signed with the current consent."""

    def __init__(self, draw: Draws, accounts: Accounts):
        self.draw = draw
        self.accounts = accounts
        self.definition = intake.current_definition()
        self.consent = consents.current_consent()
        self.sha = {loc: self.consent.sha256(loc) for loc in ("en", "fr_CA")}

    def in_progress(self, plan: Plan, phone: str, dob: date) -> None:
        """Joined, and part of the intake saved (or nothing yet)."""
        draw = self.draw
        joined = draw.now - draw.days(1, 45)
        accepted = draw.before_now(joined + draw.hours(1, 48))
        self.accounts.joined(plan, joined, accepted)
        if draw.rng.random() < 0.3:
            return  # has not started
        step = draw.rng.randint(1, self.definition.step_count - 2)
        answers = intake_demo.answers(draw.rng, "clean", upto_step=step)
        answers.update(phone=phone, dob=dob.isoformat())
        saved = draw.before_now(accepted + draw.hours(0.2, 24 * 5))
        plan.intake = self._response(answers, "in_progress", accepted, saved, step + 1)
        plan.patient["last_activity_at"] = saved

    def _response(self, answers: dict, status: str, started: datetime, updated: datetime,
                  step: int) -> dict[str, Any]:
        return {"public_id": self.draw.public_id(), "definition_key": self.definition.key,
                "definition_version": self.definition.version, "status": status,
                "current_step": step, "revision": step + 1, "answers": answers,
                "created_at": started, "updated_at": updated, "has_red_flags": False,
                "red_flag_count": 0, "precaution_count": 0}

    def submit(self, plan: Plan, phone: str, dob: date, joined: datetime, kind: str,
               reviewed: bool, latest: datetime | None = None) -> datetime:
        """A submitted intake (signed), ``latest`` at the latest; its submission time."""
        draw = self.draw
        accepted = joined + draw.hours(1, 48)
        submitted = draw.before_now(min(accepted + draw.hours(1, 72), latest or draw.now))
        accepted = min(accepted, submitted - timedelta(minutes=30))
        self.accounts.joined(plan, joined, accepted)
        answers = intake_demo.answers(draw.rng, kind)
        answers.update(phone=phone, dob=dob.isoformat())
        locale = plan.user["locale"]
        signed = submitted - timedelta(minutes=2)
        plan.signature = {"public_id": draw.public_id(), "consent_key": self.consent.key,
                          "consent_version": self.consent.version,
                          "text_sha256": self.sha[locale], "locale": locale,
                          "typed_name": plan.user["name"], "signed_at": signed,
                          "ip": "127.0.0.1", "user_agent": "seed-demo"}
        answers["consent_signature"] = {"name": plan.user["name"],
                                        "consent_key": self.consent.key,
                                        "consent_version": self.consent.version,
                                        "sha256": self.sha[locale], "locale": locale}
        raised = flag_rules.compute(self.definition, answers, clinic_date(submitted))
        response = self._response(answers, "submitted", accepted + timedelta(minutes=5),
                                  submitted, self.definition.step_count)
        response.update(submitted_at=submitted, scores=scoring.compute(self.definition, answers),
                        flags=raised, **flag_rules.counts(raised))
        if reviewed:
            response.update(reviewed_at=draw.before_now(submitted + draw.hours(2, 72)),
                            reviewed_by_id=plan.patient["practitioner_id"])
        plan.intake = response
        plan.patient["last_activity_at"] = submitted
        return submitted
