"""Many generated patients: ``flask seed-demo --patients N`` (SPEC 8.5, 9).

For trying the portal at the size of a large clinic (``make bench`` seeds 100,000): names
French and English, with accents; phones and dates of birth; practitioners; every status,
each with the data it implies:

* invited: an invitation not yet accepted (no password);
* intake in progress: part of the intake saved, or nothing yet;
* intake submitted: a submitted intake (scores, flags; red flags for some), reviewed or
  waiting, and a clearance pending, rejected or not sent;
* cleared: the same with an accepted clearance, valid today;
* in treatment and discharged: weekly sessions whose ratings improve, stay flat or worsen,
  some missed, some overdue, a few safety answers, and the TreatmentOutcome and
  OutcomePoint rows that portal.outcomes gives for those ratings; discharged ones with a
  date and a coded reason, and their follow-ups after discharge (follow_ups.py: about seven
  in ten answered, without a draw from the seeded random).

Rows go in with multi-row INSERTs, a batch at a time, one commit per batch: a hundred
thousand patients take minutes, not hours. Clearance letters are small real PDFs, each
encrypted under its own key as an upload would be (storage.write_many), without a preview
image (the document pages show none then). Generated accounts share one password hash of a
random password that is thrown away: they cannot sign in (the demo accounts can). No audit
event is written per generated record (they record nothing that happened), only one that
says the patients were generated.

Everything random comes from ``random.Random(seed)`` and the number of generated patients
already there, so the same seed on the same database gives the same patients; running it
again adds more, numbered after the last.

Here: each status and what it implies, and the batches. The parts, each drawing from the
one seeded ``random.Random`` (draws.py): people.py (names, accounts, practitioners),
intakes.py, documents.py (clearance letters), courses.py (treatment); rows.py writes them.
"""
from __future__ import annotations

import random
import secrets
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from portal import audit, clock, passwords
from portal.clinic_settings import current_settings
from portal.demo.bulk import documents, people, rows
from portal.demo.bulk.courses import Courses
from portal.demo.bulk.draws import Draws, Plan, slug, weighted
from portal.demo.bulk.intakes import Intakes
from portal.demo.bulk.people import AREA_CODES, DOMAIN, FIRST_EN, FIRST_FR, LAST_EN, LAST_FR
from portal.demo.bulk.rows import Report
from portal.extensions import db
from portal.intake import services as intake
from portal.models import User
from portal.searchtext import phone_digits, search_text

__all__ = ["BATCH", "DOMAIN", "STATUS_WEIGHTS", "Generator", "Plan", "Report", "generate",
           "next_number"]

BATCH = 1000

# Out of 100: how the patients of a clinic that has seen 100,000 over the years spread
# over the stages (most courses of treatment are long finished).
# (With one practitioner per 5,000 patients, 3% in treatment is a caseload of about 150.)
STATUS_WEIGHTS = {"invited": 2, "intake_in_progress": 2, "intake_submitted": 2,
                  "cleared": 1, "in_treatment": 3, "discharged": 90}


class Generator:
    """Plans patients ``start``, ``start + 1``... from ``seed``; ``generate`` writes them.
    Each status gets the data it implies, from the parts in accounts (people.py), intakes,
    clearance letters (documents.py) and courses of treatment."""

    def __init__(self, seed: int, start: int, practitioners: list[User], password_hash: str,
                 weights: dict[str, int] | None = None):
        self.draw = Draws(random.Random(f"{seed}:{start}"), clock.now(), intake.today())
        self.weights = weights or STATUS_WEIGHTS
        self.number = start
        self.practitioners = [(p.id, p.name) for p in practitioners]
        config = current_app.config
        self.accounts = people.Accounts(self.draw, password_hash, config["INVITATION_TTL"])
        self.intakes = Intakes(self.draw, self.accounts)
        settings = current_settings()
        weeks = sorted({w for w in (settings.follow_up_first_weeks,
                                    settings.follow_up_second_weeks) if w})
        self.courses = Courses(self.draw, self.intakes, config["RATING_REMINDER_AFTER"],
                               config["RATING_WINDOW"], config["RATING_OPENS_AFTER"],
                               tuple(weeks))

    # one patient
    def plan(self) -> Plan:
        draw, rng = self.draw, self.draw.rng
        self.number += 1
        french = rng.random() < 0.45
        first = rng.choice(FIRST_FR if french else FIRST_EN)
        last = rng.choice(LAST_FR if rng.random() < (0.85 if french else 0.1) else LAST_EN)
        name = f"{first} {last}"
        email = f"p{self.number:07d}.{slug(first)}.{slug(last)}@{DOMAIN}"
        status = weighted(rng, self.weights)
        practitioner_id, _ = rng.choice(self.practitioners)
        phone = f"{rng.choice(AREA_CODES)}-555-{rng.randint(0, 9999):04d}"
        dob = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
        user = {"public_id": draw.public_id(), "email": email, "name": name, "role": "patient",
                "locale": "fr_CA" if french else "en", "active": True, "failed_logins": 0,
                "invited_by_id": practitioner_id}
        patient: dict[str, Any] = {"public_id": draw.public_id(), "status": status,
                                   "practitioner_id": practitioner_id}
        plan = Plan(user, patient)
        getattr(self, f"_{status}")(plan, phone, dob)
        submitted = plan.intake is not None and plan.intake["status"] == "submitted"
        patient["phone"] = phone_digits(phone) if submitted else None
        patient["date_of_birth"] = dob if submitted else None
        patient["search_text"] = search_text(name, email, patient["phone"],
                                             patient["date_of_birth"])
        outcome = plan.outcome
        patient["pain_change"] = (outcome["latest_nprs"] - outcome["baseline"]
                                  if outcome and outcome["latest_nprs"] is not None
                                  and outcome["baseline"] is not None else None)
        return plan

    # what each status implies
    def _invited(self, plan: Plan, phone: str, dob: date) -> None:
        self.accounts.invited(plan)

    def _intake_in_progress(self, plan: Plan, phone: str, dob: date) -> None:
        self.intakes.in_progress(plan, phone, dob)

    def _intake_submitted(self, plan: Plan, phone: str, dob: date) -> None:
        draw, rng = self.draw, self.draw.rng
        joined = draw.now - draw.days(3, 60)
        kind = weighted(rng, {"clean": 60, "precaution": 28, "red_flag": 12})
        submitted = self.intakes.submit(plan, phone, dob, joined, kind,
                                        reviewed=draw.now - joined > timedelta(days=10)
                                        and rng.random() < 0.9)
        letter = weighted(rng, {"pending": 45, "rejected": 10, "none": 45})
        if letter != "none":
            uploaded = draw.before_now(submitted + draw.days(0, 5))
            if draw.now - uploaded > timedelta(days=7):
                letter = "rejected"  # the clinic reviews letters within a week
            plan.patient["last_activity_at"] = documents.clearance(draw, plan, uploaded, letter)

    def _cleared(self, plan: Plan, phone: str, dob: date) -> None:
        draw = self.draw
        joined = draw.now - draw.days(10, 90)
        kind = "precaution" if draw.rng.random() < 0.3 else "clean"
        submitted = self.intakes.submit(plan, phone, dob, joined, kind, reviewed=True)
        uploaded = draw.before_now(submitted + draw.days(0, 5))
        plan.patient["last_activity_at"] = documents.clearance(
            draw, plan, uploaded, "accepted", documents.valid_until(draw))

    def _in_treatment(self, plan: Plan, phone: str, dob: date) -> None:
        self.courses.in_treatment(plan, phone, dob)

    def _discharged(self, plan: Plan, phone: str, dob: date) -> None:
        self.courses.discharged(plan, phone, dob)


def next_number() -> int:
    """How many generated patients there are (their e-mail addresses start p0000001.)."""
    last = db.session.scalar(select(func.max(User.email)).where(
        User.email.like(f"p%@{DOMAIN}"), User.role == "patient"))
    return int(last[1:8]) if last else 0


def generate(count: int, seed: int, practitioners: list[User], progress=None,
             weights: dict[str, int] | None = None) -> Report:
    """Add ``count`` generated patients, shared among ``practitioners`` and the generated
    ones. ``progress(done, count)`` is called after each committed batch; ``weights``
    replaces STATUS_WEIGHTS (the tests want every status among a few patients)."""
    # The password is thrown away at once: generated accounts cannot sign in.
    password_hash = passwords.hash_password(secrets.token_urlsafe(32))
    start = next_number()
    staff, made = people.practitioners(password_hash, start + count)
    db.session.commit()
    generator = Generator(seed, start, [*practitioners, *staff], password_hash, weights)
    total = Report(practitioners=made, first_number=start + 1)
    done = 0
    while done < count:
        plans = [generator.plan() for _ in range(min(BATCH, count - done))]
        batch = rows.write(plans)
        db.session.commit()
        for name in ("patients", "intakes", "documents", "sessions", "ratings"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        done += len(plans)
        if progress:
            progress(done, count)
    audit.write("demo.patients_generated", actor=None,
                detail={"count": count, "first": start + 1, "seed": seed})
    db.session.commit()
    return total

