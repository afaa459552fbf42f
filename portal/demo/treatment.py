"""Demo treatment for ``flask seed-demo`` (SPEC 9): patients in treatment with 3 to 12
sessions each, pain improving, flat or worsening, some ratings overdue, one session recorded
with an override and one safety answer waiting on the worklist.

Runs after the intake and documents demos and uses what they made: patients whose intake was
sent without red flags. Each chosen patient gets an accepted clearance if they have none
(through the documents service), then a course of sessions written straight into the tables
with their past dates (the services would date everything now and e-mail every patient).
A patient who already has sessions is left alone, so running seed-demo again adds nothing.
"""
from __future__ import annotations

import io
import random
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from portal import audit, clock
from portal.clinic.chart import services as chart_data
from portal.demo import milestones
from portal.extensions import db
from portal.intake import bodymap
from portal.models import IntakeResponse, Patient, SessionRating, TreatmentSession, User
from portal.treatment import intake_link, services

# Patients whose clearance the documents demo shows in another state (pending, rejected...)
# stay as they are; these are their numbers (patientNN@example.com).
LEAVE_ALONE = {2, 4, 6, 7, 8}
TRAJECTORIES = ["improving", "flat", "worsening"] * 3
# One improving course, finished: discharged as completed, so that the demo has a patient
# in every state (SPEC 9).
DISCHARGED = 3
# The patients whose safety check, the day after a session, was answered yes: handled with
# a note, and waiting on the worklist.
ACKNOWLEDGED_SAFETY = 5
# The patients whose last rating is overdue (reminded, not given yet).
OVERDUE = (1, 4, 6)
WAITING_SAFETY = 7
OVERRIDE_REASON = ("Dr. Wong confirmed the clearance by telephone today; the letter is in "
                   "the mail.")
REGION_SETS = [["back.neck.right", "back.upper_back.right", "back.shoulder_blade.right"],
               ["back.low_back.left", "back.low_back.right", "back.buttock.left"],
               ["front.shoulder.right", "back.shoulder.right", "front.upper_arm.right"],
               ["back.thigh.right", "back.calf.right", "front.hip.right"],
               ["front.forearm.right", "front.elbow.right", "back.forearm.right"]]


def _number(user: User) -> int | None:
    local = user.email.split("@")[0]
    digits = local.removeprefix("patient")
    return int(digits) if digits.isdigit() else None


def candidates(limit: int = len(TRAJECTORIES)) -> list[Patient]:
    """Patients with an intake sent without red flags, in a fixed order that running the
    demo again does not change."""
    rows = db.session.scalars(
        select(Patient).join(User, User.id == Patient.user_id)
        .join(IntakeResponse, IntakeResponse.patient_id == Patient.id)
        .where(User.password_hash.is_not(None), IntakeResponse.status == "submitted",
               IntakeResponse.has_red_flags.is_(False),
               User.email.like("patient%@example.com"))  # not portal.demo.bulk's
        .order_by(Patient.id)).all()
    chosen = [p for p in rows if _number(p.user) is not None
              and _number(p.user) not in LEAVE_ALONE]
    return chosen[:limit]


def _values(rng: random.Random, trajectory: str, baseline: int, n: int) -> list[int]:
    out: list[int] = []
    for i in range(n):
        progress = i / max(n - 1, 1)
        if trajectory == "improving":
            target = baseline - round(baseline * 0.65 * progress)
            value = target + rng.choice([0, 0, 1])
        elif trajectory == "flat":
            value = baseline + rng.choice([-1, 0, 0, 1])
        else:  # worse: a slow rise, and a 2-point jump at the end
            value = baseline + round(1 * progress)
            if i == n - 1:
                value = max(out[-1] + 2, baseline + 2) if out else baseline + 2
        value = max(0, min(10, value))
        if out and value - out[-1] >= 2 and not (trajectory == "worsening" and i == n - 1):
            value = out[-1] + 1  # no accidental "worse over the last two"
        out.append(value)
    return out


def _clear(patient: Patient, reviewer: User, uploaded: datetime | None = None,
           letter: date | None = None) -> None:
    """An accepted clearance letter: by default uploaded 101 days ago, reviewed the day
    after, before any of the demo's sessions; ``letter``: the physician's date on it (by
    default four days before the upload)."""
    from portal.demo import samples
    from portal.documents import services as documents

    if documents.is_cleared(patient):
        return
    uploaded = uploaded or clock.now() - timedelta(days=101)
    user = patient.user
    doc, = documents.upload(patient, user, "clearance", [documents.Upload(
        f"clearance-{user.name.split()[-1].lower()}.pdf",
        io.BytesIO(samples.pdf(samples.clearance_lines(user.name))))])
    doc.status = "accepted"
    doc.reviewed_by = reviewer
    doc.reviewed_at = uploaded + timedelta(days=1)
    doc.created_at = uploaded
    doc.valid_until = documents.today() + timedelta(days=240)
    # Written before the upload, and before the demo's first session.
    doc.letter_date = letter or (uploaded - timedelta(days=4)).date()
    db.session.commit()


def _course(patient: Patient, practitioner: User, rng: random.Random, trajectory: str, *,
            overdue: bool, override: bool) -> int:
    baseline = intake_link.nprs_baseline(patient) or 6
    if trajectory == "worsening":
        baseline = min(baseline, 7)
    n = rng.randint(3, 12)
    values = _values(rng, trajectory, baseline, n)
    activities = intake_link.psfs_baseline(patient)
    regions = [code for code in rng.choice(REGION_SETS) if bodymap.is_region(code)]
    now = clock.now()
    # An overdue rating's last session is three days back: its reminder (a day after the
    # rating opens, itself a day after the session) is then in the past at any time of day.
    last = now - timedelta(days=3 if overdue else rng.randint(3, 6), hours=rng.randint(1, 5))
    for i, value in enumerate(values):
        day = services.clinic_date(last - timedelta(days=7 * (n - 1 - i)))
        when = services.clinic_datetime(day, time(rng.choice([9, 10, 11, 14, 15, 16]),
                                                  rng.choice([0, 15, 30, 45])))
        is_last = i == n - 1
        session = _session(patient, practitioner, rng, when, value, regions,
                           overridden=override and i == 0)
        if is_last and overdue:
            session.reminder_sent_at = session.rating_opens_at + timedelta(hours=24, minutes=5)
            continue
        if not is_last and rng.random() < 0.1:
            session.rating_closed_at = when + timedelta(days=7)  # never rated
            continue
        psfs = _psfs(activities, trajectory, i, n)
        # Rated once the rating opened, the day after the session (SPEC 4.2).
        rated_at = session.rating_opens_at + timedelta(hours=rng.randint(0, 20))
        db.session.add(SessionRating(
            session_id=session.id, patient_id=patient.id, pain_now=value,
            pain_average=value, score_question="average_24h",
            pgic={"improving": min(3, 1 + i // 3), "flat": 0, "worsening": -1}[trajectory],
            soreness=rng.randint(1, 6), soreness_duration=rng.choice(
                ["under_day", "under_day", "one_two_days"]),
            psfs=psfs, psfs_mean=(sum(p["score"] for p in psfs) / len(psfs)) if psfs else None,
            comment=rng.choice([None, None, "Sore for a day, then looser.",
                                "Slept better this week."]),
            created_at=rated_at, updated_at=rated_at))
    return n


def _session(patient: Patient, practitioner: User, rng: random.Random, when: datetime,
             value: int, regions: list[str], overridden: bool) -> TreatmentSession:
    """One recorded session (flushed, so it has its id); ``overridden``: recorded without
    a clearance, the gate overridden."""
    session = TreatmentSession(
        patient_id=patient.id, recorded_by_id=practitioner.id, treated_at=when,
        regions=rng.sample(regions, k=rng.randint(1, len(regions))),
        nprs_before=min(10, value + rng.choice([0, 1])) if rng.random() < 0.6 else None,
        notes=rng.choice(["Good twitch responses.", "Tight paraspinals at L4-5.",
                          "Patient tolerated well.", None]),
        status="recorded", corrections=[], created_at=when, updated_at=when,
        rating_opens_at=services.rating_opens_for(when, when))
    if overridden:
        session.override_gates = ["clearance"]
        session.override_reason = OVERRIDE_REASON
    db.session.add(session)
    db.session.flush()
    if overridden:
        audit.write("session.gate_overridden", patient=patient, actor=practitioner,
                    subject=session.public_id, detail={"missing": ["clearance"]})
    return session


def _psfs(activities: list[tuple[str, int]], trajectory: str, i: int,
          n: int) -> list[dict[str, Any]] | None:
    """The PSFS scores of the ``i``-th rating of ``n``: every PSFS_EVERY-th one."""
    if not activities or (i + 1) % services.PSFS_EVERY != 0:
        return None
    shift = {"improving": 1 + round(4 * i / max(n - 1, 1)), "flat": 0,
             "worsening": -1}[trajectory]
    return [{"activity": name, "score": max(0, min(10, score + shift))}
            for name, score in activities]


def treat(patient: Patient, practitioner: User, rng: random.Random, trajectory: str) -> None:
    """A plain course for a patient with an intake sent and none yet: cleared, the consent
    discussion before the first session, weekly sessions rated. Commits."""
    _clear(patient, practitioner)
    _course(patient, practitioner, rng, trajectory, overdue=False, override=False)
    milestones.discuss(patient, practitioner, milestones.first_session(patient))
    patient.status = "in_treatment"
    patient.last_activity_at = clock.now() - timedelta(days=1)
    services.refresh_outcome(patient)
    db.session.commit()


def seed(rng: random.Random, practitioners: list[User]) -> int:
    """Courses of treatment for the chosen patients who have none yet. Returns how many
    patients got one."""
    made = 0
    for index, patient in enumerate(candidates()):
        if db.session.scalar(select(TreatmentSession.id)
                             .where(TreatmentSession.patient_id == patient.id).limit(1)):
            continue
        practitioner = patient.practitioner or practitioners[index % len(practitioners)]
        trajectory = TRAJECTORIES[index]
        override = index == len(TRAJECTORIES) - 1
        if not override:
            _clear(patient, practitioner)
        _course(patient, practitioner, rng, trajectory, overdue=index in OVERDUE,
                override=override)
        first = milestones.first_session(patient)
        if override:
            # The letter the override's reason speaks of: dated the day before the first
            # session, it arrives two days after it, and clears the sessions that follow.
            _clear(patient, practitioner, uploaded=first + timedelta(days=2),
                   letter=services.clinic_date(first - timedelta(days=1)))
        milestones.discuss(patient, practitioner, first)
        if index == ACKNOWLEDGED_SAFETY:
            milestones.acknowledged_safety(patient, practitioner)
        if index == WAITING_SAFETY:
            milestones.waiting_safety(patient)
        patient.status = "in_treatment"
        patient.last_activity_at = clock.now() - timedelta(days=1)
        services.refresh_outcome(patient)
        db.session.commit()
        if index == DISCHARGED:
            chart_data.discharge(patient, practitioner, "completed")  # audited, as on the chart
        made += 1
    return made
