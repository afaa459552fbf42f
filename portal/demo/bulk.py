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
  date and a coded reason.

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
"""
from __future__ import annotations

import base64
import hashlib
import random
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select

from portal import audit, clock, outcomes, passwords
from portal.demo import intake as intake_demo
from portal.demo.treatment import REGION_SETS
from portal.demo.treatment import _values as pain_course
from portal.extensions import db
from portal.intake import bodymap
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake import services as intake
from portal.intake.questionnaires import scoring
from portal.models import (
    AccountToken,
    ConsentSignature,
    Document,
    IntakeResponse,
    OutcomePoint,
    Patient,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.searchtext import fold, phone_digits, search_text

DOMAIN = "generated.example.net"
BATCH = 1000

FIRST_FR = ["Amélie", "Benoît", "Chloé", "Émile", "François", "Gaëlle", "Hélène", "Jérôme",
            "Léa", "Loïc", "Maël", "Marie-Ève", "Noémie", "Océane", "René", "Solène",
            "Thérèse", "Zoé", "Jean-François", "Anaïs", "Céline", "Gisèle", "Stéphane",
            "Josée", "Mathéo", "Frédérique", "Raphaël", "Éloïse", "Ginette", "Guylaine"]
FIRST_EN = ["Margaret", "Robert", "Linda", "Daniel", "Susan", "Olivia", "Gurpreet", "Mei",
            "Thomas", "Patrick", "Raj", "Helen", "Amira", "George", "Wei", "Brenda", "Kenji",
            "Siobhan", "Aaron", "Fatima", "Jasmine", "Liam", "Noah", "Priya", "Grace",
            "Owen", "Hannah", "Arjun", "Chloe", "Ethan"]
LAST_FR = ["Côté", "Bélanger", "Lévesque", "Gagné", "Bérubé", "Pelletier", "Théberge",
           "Séguin", "Ménard", "Tremblay", "Gagnon", "Bouchard", "Gauthier", "Morin",
           "Lavoie", "Fortin", "Ouellet", "Dubé", "Després", "Paré", "Leblanc", "Boucher",
           "Poirier", "Thériault", "Girard", "Lefèbvre", "Béland", "Hébert", "Roy", "Cloutier"]
LAST_EN = ["Smith", "Anderson", "Chen", "Evans", "Gill", "Harris", "Ito", "Johnson", "Kaur",
           "MacDonald", "Nguyen", "Patel", "Singh", "Thompson", "Wong", "Wilson", "O'Brien",
           "MacLeod", "Campbell", "Sandhu", "Li", "Brown", "Taylor", "Martin", "Stewart",
           "Fraser", "Reid", "Murphy", "Grewal", "Kim"]
AREA_CODES = ["604", "778", "236", "250", "403", "587", "416", "647", "514", "438", "418",
              "613", "819", "902"]
# One practitioner for every PATIENTS_PER_PRACTITIONER generated patients (six at least):
# a practitioner carries a caseload, whatever the size of the clinic's history.
PRACTITIONERS = [("dr.gauthier", "Dr. Amélie Gauthier"), ("dr.singh", "Dr. Harpreet Singh"),
                 ("dr.okafor", "Dr. Chidi Okafor"), ("dr.belanger", "Dr. Luc Bélanger"),
                 ("dr.murphy", "Dr. Siobhan Murphy"), ("dr.nakamura", "Dr. Ren Nakamura"),
                 ("dr.pelletier", "Dr. Sophie Pelletier"), ("dr.grewal", "Dr. Manpreet Grewal"),
                 ("dr.lefebvre", "Dr. Étienne Lefebvre"), ("dr.campbell", "Dr. Fiona Campbell"),
                 ("dr.nguyen", "Dr. Linh Nguyen"), ("dr.theriault", "Dr. Geneviève Thériault"),
                 ("dr.osei", "Dr. Kwame Osei"), ("dr.fraser", "Dr. Ian Fraser"),
                 ("dr.dube", "Dr. Mélanie Dubé"), ("dr.kaur", "Dr. Simran Kaur"),
                 ("dr.moreau", "Dr. Julien Moreau"), ("dr.chen", "Dr. Grace Chen"),
                 ("dr.boucher", "Dr. Maxime Boucher"), ("dr.reid", "Dr. Alison Reid")]
PATIENTS_PER_PRACTITIONER = 5000
# Out of 100: how the patients of a clinic that has seen 100,000 over the years spread
# over the stages (most courses of treatment are long finished).
# (With one practitioner per 5,000 patients, 3% in treatment is a caseload of about 150.)
STATUS_WEIGHTS = {"invited": 2, "intake_in_progress": 2, "intake_submitted": 2,
                  "cleared": 1, "in_treatment": 3, "discharged": 90}
TRAJECTORIES = {"improving": 50, "flat": 30, "worsening": 20}
CANCEL_REASON = "Recorded for the wrong day; the session is recorded again."
REJECT_REASON = ("This letter is a referral, not a clearance. Please ask your physician to "
                 "write that they examined you and that IMS may proceed.")
NOTES = ["Good twitch responses.", "Tight paraspinals at L4-5.", "Patient tolerated well.",
         "Upper trapezius and levator scapulae.", None, None]
COMMENTS = [None, None, None, "Sore for a day, then looser.", "Slept better this week.",
            "Hard week at work.", "Tense again after driving."]


@dataclass
class Report:
    patients: int = 0
    practitioners: int = 0
    intakes: int = 0
    documents: int = 0
    sessions: int = 0
    ratings: int = 0
    first_number: int = 0


@dataclass
class Plan:
    """Everything one generated patient gets, before the ids are known."""
    user: dict[str, Any]
    patient: dict[str, Any]
    token: dict[str, Any] | None = None
    intake: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sessions: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    # OutcomePoint rows, one per rating in the order of ``sessions`` (ids filled in later).
    points: list[dict[str, Any]] = field(default_factory=list)


def _slug(text_: str) -> str:
    return "".join(c for c in fold(text_) if c.isascii() and c.isalnum())


DISCHARGE_WEIGHTS = {"completed": 70, "no_contact": 12, "patient_request": 10, "referred": 5,
                     "other": 3}


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Generator:
    """Plans patients ``start``, ``start + 1``... from ``seed``; insert() writes them."""

    def __init__(self, seed: int, start: int, practitioners: list[User], password_hash: str,
                 weights: dict[str, int] | None = None):
        self.rng = random.Random(f"{seed}:{start}")
        self.weights = weights or STATUS_WEIGHTS
        self.number = start
        self.practitioners = [(p.id, p.name) for p in practitioners]
        self.password_hash = password_hash
        self.now = clock.now()
        self.today = intake.today()
        self.definition = intake.current_definition()
        self.consent = consents.current_consent()
        self.sha = {loc: self.consent.sha256(loc) for loc in ("en", "fr_CA")}
        config = current_app.config
        self.reminder_after = config["RATING_REMINDER_AFTER"]
        self.window = config["RATING_WINDOW"]
        self.invitation_ttl = config["INVITATION_TTL"]
        self.region_sets = [[c for c in regions if bodymap.is_region(c)]
                            for regions in REGION_SETS]

    # small helpers
    def _id(self, nbytes: int = 12) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(nbytes)).decode().rstrip("=")

    def _hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def _days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def _before_now(self, moment: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
        return min(moment, self.now - margin)

    # one patient
    def plan(self) -> Plan:
        rng = self.rng
        self.number += 1
        french = rng.random() < 0.45
        first = rng.choice(FIRST_FR if french else FIRST_EN)
        last = rng.choice(LAST_FR if rng.random() < (0.85 if french else 0.1) else LAST_EN)
        name = f"{first} {last}"
        email = f"p{self.number:07d}.{_slug(first)}.{_slug(last)}@{DOMAIN}"
        status = _weighted(rng, self.weights)
        practitioner_id, _ = rng.choice(self.practitioners)
        phone = f"{rng.choice(AREA_CODES)}-555-{rng.randint(0, 9999):04d}"
        dob = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
        user = {"public_id": self._id(), "email": email, "name": name, "role": "patient",
                "locale": "fr_CA" if french else "en", "active": True, "failed_logins": 0,
                "invited_by_id": practitioner_id}
        patient: dict[str, Any] = {"public_id": self._id(), "status": status,
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

    def _joined(self, plan: Plan, when: datetime, accepted: datetime | None) -> None:
        plan.user.update(created_at=when, password_hash=self.password_hash if accepted else None,
                         email_confirmed_at=accepted)
        plan.patient.update(created_at=when, last_activity_at=accepted or when)

    def _invited(self, plan: Plan, phone: str, dob: date) -> None:
        joined = self.now - self._days(0, 60)
        self._joined(plan, joined, None)
        plan.token = {"purpose": "invite", "created_at": joined,
                      "token_hash": hashlib.sha256(self.rng.randbytes(32)).hexdigest(),
                      "expires_at": joined + self.invitation_ttl,
                      "created_by_id": plan.user["invited_by_id"]}

    def _intake_in_progress(self, plan: Plan, phone: str, dob: date) -> None:
        joined = self.now - self._days(1, 45)
        accepted = self._before_now(joined + self._hours(1, 48))
        self._joined(plan, joined, accepted)
        if self.rng.random() < 0.3:
            return  # has not started
        step = self.rng.randint(1, self.definition.step_count - 2)
        answers = intake_demo.answers(self.rng, "clean", upto_step=step)
        answers.update(phone=phone, dob=dob.isoformat())
        saved = self._before_now(accepted + self._hours(0.2, 24 * 5))
        plan.intake = self._response(answers, "in_progress", accepted, saved, step + 1)
        plan.patient["last_activity_at"] = saved

    def _response(self, answers: dict, status: str, started: datetime, updated: datetime,
                  step: int) -> dict[str, Any]:
        return {"public_id": self._id(), "definition_key": self.definition.key,
                "definition_version": self.definition.version, "status": status,
                "current_step": step, "revision": step + 1, "answers": answers,
                "created_at": started, "updated_at": updated, "has_red_flags": False,
                "red_flag_count": 0, "precaution_count": 0}

    def _submit(self, plan: Plan, phone: str, dob: date, joined: datetime, kind: str,
                reviewed: bool, latest: datetime | None = None) -> datetime:
        """A submitted intake (signed), ``latest`` at the latest; its submission time."""
        rng = self.rng
        accepted = joined + self._hours(1, 48)
        submitted = self._before_now(min(accepted + self._hours(1, 72), latest or self.now))
        accepted = min(accepted, submitted - timedelta(minutes=30))
        self._joined(plan, joined, accepted)
        answers = intake_demo.answers(rng, kind)
        answers.update(phone=phone, dob=dob.isoformat())
        locale = plan.user["locale"]
        signed = submitted - timedelta(minutes=2)
        plan.signature = {"public_id": self._id(), "consent_key": self.consent.key,
                          "consent_version": self.consent.version,
                          "text_sha256": self.sha[locale], "locale": locale,
                          "typed_name": plan.user["name"], "signed_at": signed,
                          "ip": "127.0.0.1", "user_agent": "seed-demo"}
        answers["consent_signature"] = {"name": plan.user["name"],
                                        "consent_key": self.consent.key,
                                        "consent_version": self.consent.version,
                                        "sha256": self.sha[locale], "locale": locale}
        raised = flag_rules.compute(self.definition, answers)
        reds = sum(1 for f in raised if f["kind"] == "red_flag")
        response = self._response(answers, "submitted", accepted + timedelta(minutes=5),
                                  submitted, self.definition.step_count)
        response.update(submitted_at=submitted, scores=scoring.compute(self.definition, answers),
                        flags=raised, has_red_flags=reds > 0, red_flag_count=reds,
                        precaution_count=len(raised) - reds)
        if reviewed:
            response.update(reviewed_at=self._before_now(submitted + self._hours(2, 72)),
                            reviewed_by_id=plan.patient["practitioner_id"])
        plan.intake = response
        plan.patient["last_activity_at"] = submitted
        return submitted

    def _clearance(self, plan: Plan, uploaded: datetime, status: str,
                   valid_until: date | None = None) -> datetime:
        """A clearance letter uploaded at ``uploaded``; when it was reviewed (or uploaded)."""
        from portal.demo import samples

        lines = samples.clearance_lines(plan.user["name"], self.rng.choice(
            ["Dr. R. Singh, MD", "Dr. M. Tremblay, MD", "Dr. A. Wong, MD"]))
        content = samples.pdf(lines)
        key = self.rng.randbytes(16).hex()  # as storage.new_key(), from the seed
        reviewed = self._before_now(uploaded + self._hours(2, 72)) if status != "pending" \
            else None
        plan.documents.append({
            "public_id": self._id(), "kind": "clearance", "status": status,
            "original_name": f"clearance-{_slug(plan.user['name'].split()[-1])}.pdf",
            "content_type": "application/pdf", "original_type": "application/pdf",
            "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
            "blob_key": key, "preview_key": None, "created_at": uploaded,
            "reviewed_at": reviewed,
            "reviewed_by_id": plan.patient["practitioner_id"] if reviewed else None,
            "valid_until": valid_until,
            "rejection_reason": REJECT_REASON if status == "rejected" else None})
        plan.blobs.append((key, content))
        return reviewed or uploaded

    def _intake_submitted(self, plan: Plan, phone: str, dob: date) -> None:
        rng = self.rng
        joined = self.now - self._days(3, 60)
        kind = _weighted(rng, {"clean": 60, "precaution": 28, "red_flag": 12})
        submitted = self._submit(plan, phone, dob, joined, kind,
                                 reviewed=self.now - joined > timedelta(days=10)
                                 and rng.random() < 0.9)
        letter = _weighted(rng, {"pending": 45, "rejected": 10, "none": 45})
        if letter != "none":
            uploaded = self._before_now(submitted + self._days(0, 5))
            if self.now - uploaded > timedelta(days=7):
                letter = "rejected"  # the clinic reviews letters within a week
            plan.patient["last_activity_at"] = self._clearance(plan, uploaded, letter)

    def _valid_until(self) -> date | None:
        return None if self.rng.random() < 0.3 else \
            self.today + timedelta(days=self.rng.randint(30, 365))

    def _cleared(self, plan: Plan, phone: str, dob: date) -> None:
        joined = self.now - self._days(10, 90)
        kind = "precaution" if self.rng.random() < 0.3 else "clean"
        submitted = self._submit(plan, phone, dob, joined, kind, reviewed=True)
        uploaded = self._before_now(submitted + self._days(0, 5))
        plan.patient["last_activity_at"] = self._clearance(plan, uploaded, "accepted",
                                                           self._valid_until())

    def _in_treatment(self, plan: Plan, phone: str, dob: date) -> None:
        self._treated(plan, phone, dob, last=self.now - self._days(0.3, 14))

    def _discharged(self, plan: Plan, phone: str, dob: date) -> None:
        self._treated(plan, phone, dob, last=self.now - self._days(30, 3000))
        # Discharged a few days to three weeks after the last session, mostly as completed.
        at = self._before_now(plan.patient["last_activity_at"] + self._days(1, 21))
        plan.patient.update(discharged_at=at, last_activity_at=at,
                            discharge_reason=_weighted(self.rng, DISCHARGE_WEIGHTS))

    def _treated(self, plan: Plan, phone: str, dob: date, last: datetime) -> None:
        rng = self.rng
        n = rng.randint(2, 12) if plan.patient["status"] == "in_treatment" else rng.randint(4, 12)
        first_session = last - timedelta(days=7 * (n - 1))
        joined = first_session - self._days(10, 40)
        kind = "precaution" if rng.random() < 0.3 else "clean"
        submitted = self._submit(plan, phone, dob, joined, kind, reviewed=True,
                                 latest=first_session - timedelta(days=4))
        assert plan.intake is not None  # just submitted
        uploaded = submitted + self._days(0, 2)
        valid = (self._valid_until() if plan.patient["status"] == "in_treatment"
                 else (uploaded + timedelta(days=365)).date())
        self._clearance(plan, uploaded, "accepted", valid)
        baseline = plan.intake["scores"]["nprs_baseline"]
        trajectory = _weighted(rng, TRAJECTORIES)
        start = min(baseline, 7) if trajectory == "worsening" else baseline
        values = pain_course(rng, trajectory, start, n)
        activities = [(row["activity"], row["score"]) for row in plan.intake["answers"]["psfs"]]
        regions = rng.choice(self.region_sets)
        rated: list[tuple[int, int]] = []  # (session number, pain)
        rated_at: list[datetime] = []
        number = 0
        latest_activity = submitted
        for i, value in enumerate(values):
            treated = first_session + timedelta(days=7 * i, hours=rng.uniform(-3, 3))
            treated = self._before_now(treated, timedelta(hours=2))
            session, rating = self._session(plan, treated, regions, value, i, n, trajectory,
                                            activities)
            plan.sessions.append((session, rating))
            latest_activity = max(latest_activity, treated,
                                  rating["created_at"] if rating else treated)
            number += session["status"] == "recorded"
            if rating is not None:
                rated.append((number, value))
                rated_at.append(treated)
        change = outcomes.classify_nprs(baseline, [pain for _number, pain in rated])
        points = outcomes.course_points(baseline, rated)
        plan.points = [{**asdict(point), "session_at": at, "next_at": later}
                       for point, at, later in zip(points, rated_at, [*rated_at[1:], None])]
        plan.outcome = {"baseline": baseline, "latest_nprs": change.latest,
                        "rated_count": len(rated), "status": change.status,
                        "updated_at": latest_activity}
        plan.patient["last_activity_at"] = latest_activity

    def _session(self, plan: Plan, treated: datetime, regions: list[str], value: int, i: int,
                 n: int, trajectory: str, activities: list[tuple[str, int]]):
        rng = self.rng
        practitioner_id = plan.patient["practitioner_id"]
        session = {"public_id": self._id(), "recorded_by_id": practitioner_id,
                   "treated_at": treated,
                   "regions": rng.sample(regions, rng.randint(1, len(regions))),
                   "nprs_before": min(10, value + rng.choice([0, 1])) if rng.random() < 0.6
                   else None, "notes": rng.choice(NOTES), "status": "recorded",
                   "corrections": [], "created_at": treated, "updated_at": treated,
                   "rating_opens_at": treated}
        is_last = i == n - 1
        if not is_last and rng.random() < 0.03:
            session.update(status="cancelled", cancelled_by_id=practitioner_id,
                           cancelled_at=treated + timedelta(hours=3),
                           cancel_reason=CANCEL_REASON, updated_at=treated + timedelta(hours=3))
            return session, None
        age = self.now - treated
        if age < self.reminder_after:
            answered = rng.random() < 0.5
        elif age < self.window:
            answered = rng.random() < 0.8
        else:
            answered = rng.random() < 0.9
        if not answered:
            if age >= self.reminder_after:
                session["reminder_sent_at"] = treated + self.reminder_after
            if age >= self.window:
                session["rating_closed_at"] = treated + self.window
            return session, None
        rated_at = self._before_now(treated + self._hours(2, 20), timedelta(minutes=1))
        psfs: list[dict[str, Any]] | None = None
        if activities and (i + 1) % 3 == 0:
            shift = {"improving": 1 + round(4 * i / max(n - 1, 1)), "flat": 0,
                     "worsening": -1}[trajectory]
            psfs = [{"activity": name, "score": max(0, min(10, score + shift))}
                    for name, score in activities]
        alert = rng.random() < 0.002
        handled = alert and self.now - rated_at > timedelta(days=1)
        rating = {"public_id": self._id(), "pain_now": value,
                  "pgic": {"improving": min(3, 1 + i // 3), "flat": 0, "worsening": -1}[trajectory],
                  "soreness": rng.randint(1, 6),
                  "soreness_duration": rng.choice(["under_day", "under_day", "one_two_days"]),
                  "psfs": psfs, "psfs_mean": outcomes.mean(p["score"] for p in psfs)
                  if psfs else None, "comment": rng.choice(COMMENTS),
                  "breathing_alert": alert,
                  "alert_handled_at": rated_at + timedelta(hours=2) if handled else None,
                  "alert_handled_by_id": practitioner_id if handled else None,
                  "created_at": rated_at, "updated_at": rated_at}
        return session, rating


# --- writing ----------------------------------------------------------------------------

def _insert(model, rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """One multi-row INSERT (RETURNING the ids in the rows' order, if asked)."""
    if not rows:
        return []
    # Every row names the same columns: an optional value left out is NULL.
    columns = {key for row in rows for key in row}
    rows = [row if len(row) == len(columns) else {key: row.get(key) for key in columns}
            for row in rows]
    table = model.__table__
    if returning:
        return list(db.session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
    db.session.execute(insert(table), rows)
    return []


@dataclass
class _Rows:
    """The rows of the plans below their user and patient, with those ids filled in."""
    tokens: list[dict[str, Any]] = field(default_factory=list)
    intakes: list[tuple[Plan, dict[str, Any]]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sessions: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)


def _gather(plans: list[Plan], user_ids: list[int], patient_ids: list[int]) -> _Rows:
    rows = _Rows()
    for plan, user_id, patient_id in zip(plans, user_ids, patient_ids):
        if plan.token:
            rows.tokens.append({**plan.token, "user_id": user_id})
        if plan.intake:
            rows.intakes.append((plan, {**plan.intake, "patient_id": patient_id}))
        for doc in plan.documents:
            rows.documents.append({**doc, "patient_id": patient_id, "uploaded_by_id": user_id})
        rows.blobs += plan.blobs
        rows.sessions += [({**s, "patient_id": patient_id}, r) for s, r in plan.sessions]
        if plan.outcome:
            rows.outcomes.append({**plan.outcome, "patient_id": patient_id})
        rows.points += [{**point, "patient_id": patient_id} for point in plan.points]
    return rows


def _write_intakes(intakes: list[tuple[Plan, dict[str, Any]]]) -> None:
    response_ids = _insert(IntakeResponse, [row for _plan, row in intakes], returning=True)
    _insert(ConsentSignature, [{**plan.signature, "patient_id": row["patient_id"],
                                "response_id": response_id}
                               for (plan, row), response_id in zip(intakes, response_ids)
                               if plan.signature])


def _write_treatment(rows: _Rows) -> None:
    sessions, points = rows.sessions, rows.points
    session_ids = _insert(TreatmentSession, [s for s, _r in sessions], returning=True)
    rating_ids = _insert(SessionRating, [{**r, "session_id": sid, "patient_id": s["patient_id"]}
                                         for (s, r), sid in zip(sessions, session_ids)
                                         if r is not None], returning=True)
    _insert(TreatmentOutcome, rows.outcomes)
    if len(points) != len(rating_ids):  # one point per rating, in the same order
        raise RuntimeError("outcome points out of step with the ratings")
    _insert(OutcomePoint, [{**point, "rating_id": rating_id}
                           for point, rating_id in zip(points, rating_ids)])


def _write(plans: list[Plan]) -> Report:
    from portal.storage import get_storage

    user_ids = _insert(User, [p.user for p in plans], returning=True)
    for plan, user_id in zip(plans, user_ids):
        plan.patient["user_id"] = user_id
    patient_ids = _insert(Patient, [p.patient for p in plans], returning=True)
    rows = _gather(plans, user_ids, patient_ids)
    _insert(AccountToken, rows.tokens)
    _write_intakes(rows.intakes)
    get_storage().write_many(rows.blobs)
    _insert(Document, rows.documents)
    _write_treatment(rows)
    return Report(patients=len(plans), intakes=len(rows.intakes),
                  documents=len(rows.documents), sessions=len(rows.sessions),
                  ratings=sum(1 for _s, r in rows.sessions if r is not None))


def _practitioners(password_hash: str, patients: int) -> tuple[list[User], int]:
    """The generated practitioners for a clinic of ``patients`` generated patients."""
    wanted = max(6, min(len(PRACTITIONERS), patients // PATIENTS_PER_PRACTITIONER))
    made = 0
    staff = []
    for local, name in PRACTITIONERS[:wanted]:
        email = f"{local}@{DOMAIN}"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, role="practitioner", password_hash=password_hash,
                        email_confirmed_at=clock.now(), created_at=clock.now(),
                        locale="en" if fold(name) == name.lower() else "fr_CA")
            db.session.add(user)
            made += 1
        staff.append(user)
    db.session.flush()
    return staff, made


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
    staff, made = _practitioners(password_hash, start + count)
    db.session.commit()
    generator = Generator(seed, start, [*practitioners, *staff], password_hash, weights)
    total = Report(practitioners=made, first_number=start + 1)
    done = 0
    while done < count:
        plans = [generator.plan() for _ in range(min(BATCH, count - done))]
        batch = _write(plans)
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

