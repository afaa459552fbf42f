"""The generated courses of treatment: weekly sessions whose ratings improve, stay flat or
worsen, some missed, some overdue, a few safety answers, and the TreatmentOutcome and
OutcomePoint rows that portal.outcomes gives for those ratings; discharged patients with a
date and a coded reason."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from portal import outcomes
from portal.demo.bulk import documents, follow_ups
from portal.demo.bulk.draws import Draws, Plan, weighted
from portal.demo.bulk.intakes import Intakes
from portal.demo.treatment import REGION_SETS
from portal.demo.treatment import _values as pain_course
from portal.intake import bodymap

TRAJECTORIES = {"improving": 50, "flat": 30, "worsening": 20}
CANCEL_REASON = "Recorded for the wrong day; the session is recorded again."
NOTES = ["Good twitch responses.", "Tight paraspinals at L4-5.", "Patient tolerated well.",
         "Upper trapezius and levator scapulae.", None, None]
COMMENTS = [None, None, None, "Sore for a day, then looser.", "Slept better this week.",
            "Hard week at work.", "Tense again after driving."]
DISCUSSION_NOTE = ("Risks, benefits and other options explained; questions answered; "
                   "agrees to IMS.")
SAFETY_NOTE = "Called the patient: no breathlessness now; advised to go to emergency if it returns."
DISCHARGE_WEIGHTS = {"completed": 70, "no_contact": 12, "patient_request": 10, "referred": 5,
                     "other": 3}


class Courses:
    """Each course starts from a submitted intake and an accepted clearance; its ratings
    follow one trajectory from the intake's baseline pain."""

    def __init__(self, draw: Draws, intakes: Intakes, reminder_after: timedelta,
                 window: timedelta, opens_after: timedelta = timedelta(hours=24),
                 follow_up_weeks: tuple[int, ...] = ()):
        self.draw = draw
        # The clinic's follow-up delays (SPEC 12.1): each discharge gets its follow-ups.
        self.follow_up_weeks = list(follow_up_weeks)
        self.intakes = intakes
        self.reminder_after = reminder_after
        self.window = window
        # A rating opens this long after its session (RATING_OPENS_AFTER), its reminder
        # reminder_after later, and it closes ``window`` after the session.
        self.opens_after = opens_after
        self.region_sets = [[c for c in regions if bodymap.is_region(c)]
                            for regions in REGION_SETS]

    def in_treatment(self, plan: Plan, phone: str, dob: date) -> None:
        self._treated(plan, phone, dob, last=self.draw.now - self.draw.days(0.3, 14))

    def discharged(self, plan: Plan, phone: str, dob: date) -> None:
        self._treated(plan, phone, dob, last=self.draw.now - self.draw.days(30, 3000))
        # Discharged a few days to three weeks after the last session, mostly as completed.
        at = self.draw.before_now(plan.patient["last_activity_at"] + self.draw.days(1, 21))
        plan.patient.update(discharged_at=at, last_activity_at=at,
                            discharge_reason=weighted(self.draw.rng, DISCHARGE_WEIGHTS))
        follow_ups.plan_follow_ups(plan, self.follow_up_weeks, self.draw.now)

    def _treated(self, plan: Plan, phone: str, dob: date, last: datetime) -> None:
        rng = self.draw.rng
        n = rng.randint(2, 12) if plan.patient["status"] == "in_treatment" else rng.randint(4, 12)
        first_session = last - timedelta(days=7 * (n - 1))
        joined = first_session - self.draw.days(10, 40)
        kind = "precaution" if rng.random() < 0.3 else "clean"
        submitted = self.intakes.submit(plan, phone, dob, joined, kind, reviewed=True,
                                        latest=first_session - timedelta(days=4))
        assert plan.intake is not None  # just submitted
        uploaded = submitted + self.draw.days(0, 2)
        valid = (documents.valid_until(self.draw) if plan.patient["status"] == "in_treatment"
                 else (uploaded + timedelta(days=365)).date())
        # Reviewed within 36 hours: accepted before the first session (at least 2 days
        # after the upload), as the treatment gate requires.
        documents.clearance(self.draw, plan, uploaded, "accepted", valid, review_within=36)
        baseline = plan.intake["scores"]["nprs_baseline"]
        trajectory = weighted(rng, TRAJECTORIES)
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
            treated = self.draw.before_now(treated, timedelta(hours=2))
            session, rating = self._session(plan, treated, regions, value, i, n, trajectory,
                                            activities)
            plan.sessions.append((session, rating))
            latest_activity = max(latest_activity, treated,
                                  rating["created_at"] if rating else treated)
            number += session["status"] == "recorded"
            if rating is not None:
                rated.append((number, value))
                rated_at.append(treated)
        self._discussion(plan, plan.sessions[0][0]["treated_at"])
        change = outcomes.classify_nprs(baseline, [pain for _number, pain in rated])
        points = outcomes.course_points(baseline, rated)
        plan.points = [{**asdict(point), "session_at": at, "next_at": later}
                       for point, at, later in zip(points, rated_at, [*rated_at[1:], None])]
        plan.outcome = {"baseline": baseline, "latest_nprs": change.latest,
                        "rated_count": len(rated), "status": change.status,
                        "worsening": change.worsening,
                        "updated_at": latest_activity}
        plan.patient["last_activity_at"] = latest_activity

    def _discussion(self, plan: Plan, first: datetime) -> None:
        """The practitioner's consent discussion of the intake's signature, at the first
        visit before the first needling (SPEC 4.1: the gate asks for it)."""
        at = first - timedelta(minutes=20)
        plan.discussion = {"public_id": self.draw.public_id(), "discussed_at": at,
                           "discussed_by_id": plan.patient["practitioner_id"],
                           "note": DISCUSSION_NOTE, "created_at": at}

    def _session(self, plan: Plan, treated: datetime, regions: list[str], value: int, i: int,
                 n: int, trajectory: str, activities: list[tuple[str, int]]):
        rng = self.draw.rng
        practitioner_id = plan.patient["practitioner_id"]
        session = {"public_id": self.draw.public_id(), "recorded_by_id": practitioner_id,
                   "treated_at": treated,
                   "regions": rng.sample(regions, rng.randint(1, len(regions))),
                   "nprs_before": min(10, value + rng.choice([0, 1])) if rng.random() < 0.6
                   else None, "notes": rng.choice(NOTES), "status": "recorded",
                   "corrections": [], "created_at": treated, "updated_at": treated,
                   "rating_opens_at": treated + self.opens_after}
        is_last = i == n - 1
        if not is_last and rng.random() < 0.03:
            session.update(status="cancelled", cancelled_by_id=practitioner_id,
                           cancelled_at=treated + timedelta(hours=3),
                           cancel_reason=CANCEL_REASON, updated_at=treated + timedelta(hours=3))
            return session, None
        age = self.draw.now - treated
        opens = treated + self.opens_after
        reminder = self.opens_after + self.reminder_after
        if age < self.opens_after:
            return session, None  # its rating opens later
        if age < reminder:
            answered = rng.random() < 0.5
        elif age < self.window:
            answered = rng.random() < 0.8
        else:
            answered = rng.random() < 0.9
        if not answered:
            if age >= reminder:
                session["reminder_sent_at"] = treated + reminder
            if age >= self.window:
                session["rating_closed_at"] = treated + self.window
            return session, None
        rated_at = max(opens, self.draw.before_now(opens + self.draw.hours(0, 18),
                                                   timedelta(minutes=1)))
        psfs: list[dict[str, Any]] | None = None
        if activities and (i + 1) % 3 == 0:
            shift = {"improving": 1 + round(4 * i / max(n - 1, 1)), "flat": 0,
                     "worsening": -1}[trajectory]
            psfs = [{"activity": name, "score": max(0, min(10, score + shift))}
                    for name, score in activities]
        alert = rng.random() < 0.002
        handled = alert and self.draw.now - treated > timedelta(days=1)
        # The follow-up score is the average pain over the past 24 hours (SPEC 4.2).
        rating = {"public_id": self.draw.public_id(), "pain_now": value,
                  "pain_average": value, "score_question": "average_24h",
                  "pgic": {"improving": min(3, 1 + i // 3), "flat": 0, "worsening": -1}[trajectory],
                  "soreness": rng.randint(1, 6),
                  "soreness_duration": rng.choice(["under_day", "under_day", "one_two_days"]),
                  "psfs": psfs, "psfs_mean": outcomes.mean(p["score"] for p in psfs)
                  if psfs else None, "comment": rng.choice(COMMENTS),
                  "created_at": rated_at, "updated_at": rated_at}
        if alert:
            # A "yes" to the safety check (SPEC 4.2), a few hours after the session, and
            # acknowledged two hours later when that time has passed; rows.write stores it
            # in safety_reports with the session's id.
            checked = treated + timedelta(hours=rng.randint(2, 20))
            rating["_safety"] = {
                "public_id": self.draw.public_id(), "kind": "check",
                "symptoms": ["chest_pain"], "alert": True, "created_at": checked,
                "acknowledged_at": checked + timedelta(hours=2) if handled else None,
                "acknowledged_by_id": practitioner_id if handled else None,
                "acknowledgement_note": SAFETY_NOTE if handled else None}
        return session, rating
