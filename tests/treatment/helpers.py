"""Patients ready for treatment, sessions and ratings, for the treatment tests and the
access matrix. Sessions go through the real service; long histories (charts) go straight
into the database."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal import clock, outcomes
from portal.extensions import db
from portal.models import (
    ConsentSignature,
    OutcomePoint,
    Patient,
    SafetyReport,
    SessionRating,
    TreatmentSession,
    User,
)
from portal.treatment import safety, services
from tests.factories import make_document, make_patient, make_practitioner
from tests.intake.helpers import discuss_consent, make_intake

HX = {"HX-Request": "true"}
REGION = "back.low_back.right"
SIGNED_BEFORE = timedelta(days=730)
ACTIVITIES = [("Lifting groceries", 3), ("Gardening", 5)]


def make_treatable(user: User | None = None, *, baseline: int | None = 6, cleared: bool = True,
                   consented: bool = True, discussed: bool = True, activities=ACTIVITIES,
                   **kwargs) -> User:
    """A patient with a submitted intake (NPRS baseline ``baseline``, PSFS ``activities``)
    and its signed consent, discussed with a practitioner at the time of signing (both parts
    of consent, SPEC 4.1; ``discussed=False``: the signature only), and an accepted
    clearance. ``consented=False`` gives no intake at all (so no signature);
    ``baseline=None`` the same."""
    user = user or make_patient(**kwargs)
    if consented and baseline is not None:
        make_intake(user, nprs_average=baseline,
                    psfs=[{"activity": a, "score": s} for a, s in activities])
        # Signed well before the sessions the tests record (the gate wants it signed first).
        for signature in db.session.scalars(select(ConsentSignature).where(
                ConsentSignature.patient_id == user.patient.id)):
            signature.signed_at = clock.now() - SIGNED_BEFORE
        db.session.commit()
        if discussed:
            discuss_consent(user)
    if cleared:
        make_document(user, status="accepted")
    db.session.expire_all()
    return db.session.get(User, user.id)


def record(patient_user: User, practitioner: User | None = None, *, hours_ago: float = 25,
           regions=(REGION,), override: str | None = None, nprs_before=None,
           form_key: str | None = None) -> TreatmentSession:
    """A session recorded through the service, ``hours_ago`` before now: by default a day
    and an hour, so that its rating is open (it opens RATING_OPENS_AFTER after the
    session)."""
    practitioner = practitioner or make_practitioner()
    patient = db.session.get(Patient, patient_user.patient.id)
    data = services.SessionInput(treated_at=clock.now() - timedelta(hours=hours_ago),
                                 regions=list(regions), nprs_before=nprs_before,
                                 notes="Tight quadratus lumborum.")
    return services.record_session(patient, practitioner, data, override, form_key)


def rating_input(pain: int = 4, *, now: int | None = None, pgic: int = 1, soreness: int = 3,
                 duration: str = "under_day", psfs=None,
                 comment: str | None = None) -> services.RatingInput:
    """``pain``: the follow-up score (average pain over the past 24 hours); ``now``: pain
    now, the same unless given."""
    return services.RatingInput(pain_average=pain, pain_now=pain if now is None else now,
                                pgic=pgic, soreness=soreness,
                                soreness_duration=duration, comment=comment, psfs=psfs)


def rate(session: TreatmentSession, pain: int = 4, breathing: bool = False,
         **kwargs) -> SessionRating:
    """The patient's rating of ``session``; ``breathing``: and a "yes" (chest pain) to the
    session's safety check first, a red flag for the clinic (portal/treatment/safety.py)."""
    user = session.patient.user
    if breathing:
        raise_alert(session)
    return services.save_rating(session, user, rating_input(pain, **kwargs)).rating


def raise_alert(session: TreatmentSession, symptoms=("chest_pain",)) -> SafetyReport:
    """A "yes" to the safety check of ``session``, through the service."""
    return safety.answer_check(session, session.patient.user, list(symptoms))[0]


def form_data(pain: int = 4, *, now: int | None = None,
              pgic: int = 1, soreness: int = 3, duration: str = "under_day",
              psfs: list[int] | None = None, comment: str = "") -> dict:
    """The rating form as a browser posts it."""
    data = {"pain_average": str(pain), "pain_now": str(pain if now is None else now),
            "pgic": str(pgic), "soreness": str(soreness),
            "soreness_duration": duration, "comment": comment}
    for i, score in enumerate(psfs or []):
        data[f"psfs_{i}"] = str(score)
    return data


def history(patient_user: User, values: list[int | None], *, practitioner: User | None = None,
            days_between: int = 7, psfs_every: int = 3) -> list[TreatmentSession]:
    """A past course of treatment straight into the database: one session per value, the
    last one ``days_between`` days ago; None leaves that session unrated. Every third rated
    session also re-rates the intake's activities (score = 10 - pain, for something to see)."""
    practitioner = practitioner or make_practitioner()
    patient = db.session.get(Patient, patient_user.patient.id)
    now = clock.now()
    sessions = []
    for i, value in enumerate(values):
        when = now - timedelta(days=days_between * (len(values) - i))
        session = TreatmentSession(patient_id=patient.id, recorded_by_id=practitioner.id,
                                   treated_at=when, regions=[REGION], status="recorded",
                                   corrections=[], created_at=when, updated_at=when,
                                   rating_opens_at=when, rating_closed_at=None)
        db.session.add(session)
        db.session.flush()
        if value is not None:
            psfs = None
            if (i + 1) % psfs_every == 0:
                psfs = [{"activity": a, "score": max(0, min(10, 10 - value))}
                        for a, _s in ACTIVITIES]
            db.session.add(SessionRating(
                session_id=session.id, patient_id=patient.id, pain_now=value,
                pain_average=value, score_question="average_24h", pgic=1,
                soreness=2, soreness_duration="under_day", psfs=psfs,
                psfs_mean=(sum(p["score"] for p in psfs) / len(psfs)) if psfs else None,
                created_at=when + timedelta(hours=26),
                updated_at=when + timedelta(hours=26)))
        sessions.append(session)
    patient.status = "in_treatment"
    services.refresh_outcome(patient)
    db.session.commit()
    return sessions


def stored_points(patient: Patient) -> list[tuple]:
    """The patient's OutcomePoint rows in course order, as comparable tuples."""
    return [(p.rating_id, p.number, p.pain, p.previous, p.change, p.status, p.first_improved,
             p.rated, p.next_at, p.session_at)
            for p in db.session.scalars(select(OutcomePoint)
                                        .where(OutcomePoint.patient_id == patient.id)
                                        .order_by(OutcomePoint.number))]


def fresh_points(patient: Patient) -> list[tuple]:
    """The same, computed afresh from the sessions, ratings and baseline."""
    db.session.expire_all()
    patient = db.session.get(Patient, patient.id)
    rated = services.rated_sessions(patient)
    baseline = services.baseline_for(patient).value
    points = outcomes.course_points(baseline,
                                    [(r.number, r.rating.follow_up_score) for r in rated])
    return [(r.rating.id, p.number, p.pain, p.previous, p.change, p.status, p.first_improved,
             p.rated, rated[i + 1].session.treated_at if i + 1 < len(rated) else None,
             r.session.treated_at)
            for i, (r, p) in enumerate(zip(rated, points))]
