"""Treatment sessions and the patient's ratings (SPEC 4): recording behind the clearance and
consent gate, corrections and cancellations, the rating window with its reminder, one rating
per session, and each patient's outcome. The rules and the commits live here; nothing here
reads the request.

The rating window of a session opens when the session is recorded (or at the session, if it
is recorded ahead of time): ``rating_opens_at``. A reminder is due RATING_REMINDER_AFTER
later, and the window closes RATING_WINDOW later (portal/config.py). ``send_reminders()``
(``flask send-reminders``) sends each reminder and closes each window exactly once, by
conditional UPDATEs, so it is safe to run every few minutes and from several machines.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import get_timezone, to_user_timezone
from sqlalchemy import and_, exists, func, not_, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import audit, clock, mail, outcomes
from portal.extensions import db
from portal.intake import bodymap
from portal.models import (STAFF_ROLES, OutcomePoint, Patient, SessionRating,
                           TreatmentOutcome, TreatmentSession, User)
from portal.treatment import intake_link

# A session time a little ahead of the server's clock (a practitioner's watch) is accepted.
FUTURE_TOLERANCE = timedelta(minutes=10)
# PSFS activities are asked again every third session (SPEC 4.2).
PSFS_EVERY = 3
GATES = ("clearance", "consent")


class TreatmentError(Exception):
    """A refusal to show to the user; ``code`` picks the message (views.error_text)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class GateRefused(TreatmentError):
    """No valid clearance or no current consent, and no override reason given."""

    def __init__(self, missing: list[str]):
        super().__init__("gate", missing=missing)
        self.missing = missing


# --- time -------------------------------------------------------------------------------

# The clinic's time zone is the one Flask-Babel shows times in (its timezone selector is the
# clinic's setting), with the same time-zone rules: a time typed in a form must come back
# on the page as typed. (Flask-Babel uses pytz, whose rules can be newer than the system's
# zoneinfo: British Columbia's permanent daylight time from 2026 is one such difference.)

def clinic_zone():
    return get_timezone()


def to_clinic(moment: datetime) -> datetime:
    """``moment`` on the clinic's wall clock (aware)."""
    return to_user_timezone(moment)


def clinic_date(moment: datetime) -> date:
    return to_clinic(moment).date()


def clinic_datetime(day: date, time_of_day) -> datetime:
    """A date and time on the clinic's wall clock, as an aware UTC datetime."""
    local = clinic_zone().localize(datetime.combine(day, time_of_day))
    return local.astimezone(timezone.utc)


def _take_write_lock() -> None:
    """On SQLite, take the database's write lock before reading what a change depends on:
    a concurrent request then waits here (busy timeout) and reads the result of the first
    one, instead of failing half-way. PostgreSQL needs nothing: the unique constraints and
    row locks decide there."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("UPDATE treatment_sessions SET id = id WHERE 1 = 0"))


def _config(name: str) -> timedelta:
    return current_app.config[name]


def reminder_due_at(session: TreatmentSession) -> datetime:
    return session.rating_opens_at + _config("RATING_REMINDER_AFTER")


def closes_at(session: TreatmentSession) -> datetime:
    return session.rating_opens_at + _config("RATING_WINDOW")


def editable_until(rating: SessionRating) -> datetime:
    return rating.created_at + _config("RATING_EDIT_WINDOW")


# --- the gate (SPEC 4.1) ----------------------------------------------------------------

@dataclass
class Gate:
    cleared: bool
    consented: bool

    @property
    def missing(self) -> list[str]:
        return [name for name, ok in (("clearance", self.cleared),
                                      ("consent", self.consented)) if not ok]

    @property
    def open(self) -> bool:
        return not self.missing


def gate(patient: Patient, on: date | None = None) -> Gate:
    """May ``patient`` be treated on ``on`` (the clinic's date; default today)?"""
    return Gate(cleared=intake_link.is_cleared(patient, on=on),
                consented=intake_link.has_current_consent(patient))


# --- recording, correcting, cancelling (SPEC 4.1) ---------------------------------------

@dataclass
class SessionInput:
    treated_at: datetime
    regions: list[str]
    nprs_before: int | None = None
    notes: str | None = None


def _clean(data: SessionInput) -> dict[str, Any]:
    if data.treated_at.tzinfo is None:
        raise ValueError("treated_at must be timezone-aware")
    if data.treated_at > clock.now() + FUTURE_TOLERANCE:
        raise TreatmentError("future")
    regions = [code for code in dict.fromkeys(data.regions) if bodymap.is_region(code)]
    if not regions:
        raise TreatmentError("no_regions")
    if data.nprs_before is not None and not 0 <= data.nprs_before <= 10:
        raise TreatmentError("nprs_range")
    notes = (data.notes or "").strip() or None
    return {"treated_at": data.treated_at, "regions": regions,
            "nprs_before": data.nprs_before, "notes": notes}


def _absolute(endpoint: str, **values) -> str:
    """A link for an e-mail, from a request or from a command."""
    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values)
    with current_app.test_request_context():
        return base + url_for(endpoint, **values)


def _by_form_key(patient: Patient, form_key: str | None) -> TreatmentSession | None:
    if not form_key:
        return None
    return db.session.scalar(select(TreatmentSession).where(
        TreatmentSession.patient_id == patient.id, TreatmentSession.form_key == form_key))


def record_session(patient: Patient, practitioner: User, data: SessionInput,
                   override_reason: str | None = None,
                   form_key: str | None = None) -> TreatmentSession:
    """Record a session, if the patient is cleared on its day and has signed the current
    consent, or if the practitioner gives a reason to go ahead anyway (audited and shown
    on the patient's page). Opens the patient's rating and e-mails them (no health
    information). The same form sent twice (``form_key``) records one session.
    Raises GateRefused or TreatmentError."""
    values = _clean(data)
    reason = (override_reason or "").strip() or None
    form_key = (form_key or "")[:32] or None
    _take_write_lock()
    already = _by_form_key(patient, form_key)
    if already is not None:
        db.session.rollback()
        return already
    checks = gate(patient, on=clinic_date(values["treated_at"]))
    if checks.missing and not reason:
        db.session.rollback()
        raise GateRefused(checks.missing)
    now = clock.now()
    session = TreatmentSession(patient_id=patient.id, recorded_by_id=practitioner.id,
                               created_at=now, updated_at=now, status="recorded",
                               corrections=[], form_key=form_key,
                               rating_opens_at=max(values["treated_at"], now), **values)
    if checks.missing:
        session.override_gates = checks.missing
        session.override_reason = reason
    try:
        with db.session.begin_nested():
            db.session.add(session)
    except IntegrityError:  # the same form, sent twice at once
        db.session.rollback()
        already = _by_form_key(patient, form_key)
        if already is None:
            raise
        return already
    audit.write("session.recorded", patient=patient, actor=practitioner,
                subject=session.public_id)
    if checks.missing:
        # The reason stays on the session (it may say something clinical), not in the log.
        audit.write("session.gate_overridden", patient=patient, actor=practitioner,
                    subject=session.public_id, detail={"missing": checks.missing})
    if patient.status == "discharged":
        # A session for a discharged patient re-admits them, as the chart's button does.
        audit.write("patient.readmitted", patient=patient, actor=practitioner,
                    detail={"to": "in_treatment"})
        patient.discharged_at = patient.discharge_reason = None
    if patient.status != "in_treatment":
        patient.status = "in_treatment"
    patient.last_activity_at = now
    user = patient.user
    if user.active and user.has_password:
        mail.queue("rating_due", user.email, user.locale, name=user.name,
                   link=_absolute("treatment.rate", session_id=session.public_id))
    # A session given before others renumbers them: the stored outcome points follow.
    refresh_outcome(patient)
    db.session.commit()
    return session


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def correct_session(session: TreatmentSession, practitioner: User, data: SessionInput,
                    reason: str) -> TreatmentSession:
    """Change what was recorded. The values replaced are kept on the session with who,
    when and why; the audit log says which fields changed (not their values)."""
    if session.cancelled:
        raise TreatmentError("cancelled")
    reason = (reason or "").strip()
    if not reason:
        raise TreatmentError("reason")
    values = _clean(data)
    previous = {}
    for name, value in values.items():
        old = getattr(session, name)
        if name == "treated_at" and _minute(old) == _minute(value):
            continue  # the form shows minutes: the same minute is no change
        if old != value:
            previous[name] = old.isoformat() if isinstance(old, datetime) else old
            setattr(session, name, value)
    if not previous:
        raise TreatmentError("unchanged")
    now = clock.now()
    if "treated_at" in previous:
        session.rating_opens_at = max(session.treated_at, session.created_at)
    session.corrections = [*session.corrections, {
        "at": now.isoformat(), "by": practitioner.public_id, "by_name": practitioner.name,
        "reason": reason, "previous": previous}]
    session.updated_at = now
    audit.write("session.corrected", patient=session.patient, actor=practitioner,
                subject=session.public_id, detail={"fields": sorted(previous)})
    refresh_outcome(session.patient)
    db.session.commit()
    return session


def cancel_session(session: TreatmentSession, practitioner: User, reason: str) -> None:
    """A cancelled session stays in the record, marked, with who and why; its rating (if
    any) no longer counts and an unrated one is no longer asked for."""
    reason = (reason or "").strip()
    if not reason:
        raise TreatmentError("reason")
    now = clock.now()
    result = db.session.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id == session.id, TreatmentSession.status == "recorded")
        .values(status="cancelled", cancelled_at=now, cancelled_by_id=practitioner.id,
                cancel_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise TreatmentError("already_cancelled")
    db.session.refresh(session)
    audit.write("session.cancelled", patient=session.patient, actor=practitioner,
                subject=session.public_id)
    refresh_outcome(session.patient)
    db.session.commit()


# --- reading ----------------------------------------------------------------------------

def session_by_public_id(public_id: str) -> TreatmentSession | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(TreatmentSession)
                             .where(TreatmentSession.public_id == public_id)
                             .options(joinedload(TreatmentSession.patient)
                                      .joinedload(Patient.user),
                                      joinedload(TreatmentSession.rating)))


def rating_by_public_id(public_id: str) -> SessionRating | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(SessionRating).where(SessionRating.public_id == public_id)
                             .options(joinedload(SessionRating.session),
                                      joinedload(SessionRating.patient)))


def sessions_for(patient: Patient) -> list[TreatmentSession]:
    """Every session of the patient, cancelled ones included, oldest first, with ratings
    and the people involved loaded in the same few queries."""
    return list(db.session.scalars(
        select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
        .options(joinedload(TreatmentSession.rating), joinedload(TreatmentSession.recorded_by),
                 joinedload(TreatmentSession.cancelled_by))
        .order_by(TreatmentSession.treated_at, TreatmentSession.id)))


def numbers(sessions: list[TreatmentSession]) -> dict[int, int]:
    """Session id -> its number (1, 2, ...) among the patient's sessions that were not
    cancelled, in time order. ``sessions`` as sessions_for() returns them."""
    out: dict[int, int] = {}
    for s in sessions:
        if not s.cancelled:
            out[s.id] = len(out) + 1
    return out


def session_number(session: TreatmentSession) -> int | None:
    if session.cancelled:
        return None
    earlier = db.session.scalar(
        select(func.count()).select_from(TreatmentSession)
        .where(TreatmentSession.patient_id == session.patient_id,
               TreatmentSession.status == "recorded",
               or_(TreatmentSession.treated_at < session.treated_at,
                   and_(TreatmentSession.treated_at == session.treated_at,
                        TreatmentSession.id < session.id))))
    return (earlier or 0) + 1


def psfs_activities_for(session: TreatmentSession) -> list[str]:
    """The intake's PSFS activities when this session is a third one (3, 6, 9...)."""
    number = session_number(session)
    if number is None or number % PSFS_EVERY:
        return []
    return [name for name, _score in intake_link.psfs_baseline(session.patient)]


# --- the rating window (SPEC 4.2) -------------------------------------------------------

def rating_status(session: TreatmentSession, now: datetime | None = None) -> str:
    """cancelled, rated, missed (window closed without a rating), overdue (reminder time
    passed) or due."""
    now = now or clock.now()
    if session.cancelled:
        return "cancelled"
    if session.rating is not None:
        return "rated"
    if session.rating_closed_at is not None or now >= closes_at(session):
        return "missed"
    if now >= reminder_due_at(session):
        return "overdue"
    return "due"


def can_rate(session: TreatmentSession, now: datetime | None = None) -> bool:
    return rating_status(session, now) in ("due", "overdue")


def can_edit(rating: SessionRating, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return rating.session.status == "recorded" and now < editable_until(rating)


def _awaiting(now: datetime):
    """SQL: recorded, not rated, window open."""
    rated = exists().where(SessionRating.session_id == TreatmentSession.id)
    return and_(TreatmentSession.status == "recorded",
                TreatmentSession.rating_closed_at.is_(None),
                TreatmentSession.rating_opens_at > now - _config("RATING_WINDOW"),
                not_(rated))


def _overdue(now: datetime):
    return and_(_awaiting(now),
                TreatmentSession.rating_opens_at <= now - _config("RATING_REMINDER_AFTER"))


def overdue_clause(now: datetime):
    """SQL: sessions whose rating is past its reminder time and still open (the worklist
    filters them by practitioner)."""
    return _overdue(now)


def to_rate(patient: Patient) -> list[TreatmentSession]:
    """The patient's sessions waiting for a rating, oldest first (it closes first)."""
    return list(db.session.scalars(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id, _awaiting(clock.now()))
        .order_by(TreatmentSession.treated_at, TreatmentSession.id)))


@dataclass
class RatingInput:
    pain_now: int
    pgic: int
    soreness: int
    soreness_duration: str
    breathing_alert: bool
    comment: str | None = None
    psfs: list[dict[str, Any]] | None = None


@dataclass
class RatingResult:
    rating: SessionRating
    created: bool = False
    alert_raised: bool = False


def _rating_values(data: RatingInput) -> dict[str, Any]:
    psfs = data.psfs or None
    return {"pain_now": data.pain_now, "pgic": data.pgic, "soreness": data.soreness,
            "soreness_duration": data.soreness_duration,
            "comment": (data.comment or "").strip() or None,
            "psfs": psfs,
            "psfs_mean": outcomes.mean(item["score"] for item in psfs) if psfs else None}


def save_rating(session: TreatmentSession, patient_user: User, data: RatingInput) -> RatingResult:
    try:
        return _save_rating(session, patient_user, data)
    except TreatmentError:
        db.session.rollback()  # let go of SQLite's write lock at once
        raise


def _save_rating(session: TreatmentSession, patient_user: User,
                 data: RatingInput) -> RatingResult:
    """The patient's rating of ``session``: created while the window is open, changed
    while it is editable (24 hours by default), refused after. The database allows one
    rating per session: of two simultaneous submissions (a double click, a retried
    request) one inserts and the other becomes an edit of it.

    A "yes" to the safety question is never taken back by an edit: the clinic marks it
    handled. Raises TreatmentError("closed" | "locked" | "cancelled")."""
    now = clock.now()
    if session.cancelled:
        raise TreatmentError("cancelled")
    values = _rating_values(data)
    _take_write_lock()
    existing = db.session.scalar(select(SessionRating)
                                 .where(SessionRating.session_id == session.id))
    created = False
    if existing is None:
        if not can_rate(session, now):
            raise TreatmentError("closed")
        rating = SessionRating(session_id=session.id, patient_id=session.patient_id,
                               breathing_alert=data.breathing_alert, created_at=now,
                               updated_at=now, **values)
        try:
            with db.session.begin_nested():
                db.session.add(rating)
        except IntegrityError:  # the same rating, sent twice at once
            existing = db.session.scalar(select(SessionRating)
                                         .where(SessionRating.session_id == session.id))
        else:
            created = True
            # can_rate() loaded "no rating" onto the session; refresh_outcome() below must
            # see this one.
            session.rating = rating
    if not created:
        rating = existing
        if not can_edit(rating, now):
            raise TreatmentError("locked")
    alert_raised = data.breathing_alert and (created or not rating.breathing_alert)
    if not created:
        for name, value in values.items():
            setattr(rating, name, value)
        rating.breathing_alert = rating.breathing_alert or data.breathing_alert
        rating.updated_at = now
    db.session.flush()
    patient = session.patient
    patient.last_activity_at = now
    audit.write("rating.submitted" if created else "rating.changed", patient=patient,
                actor=patient_user, subject=session.public_id)
    if alert_raised:
        audit.write("rating.safety_alert", patient=patient, actor=patient_user,
                    subject=session.public_id)
        _alert_staff(session)
    refresh_outcome(patient)
    db.session.commit()
    return RatingResult(rating, created=created, alert_raised=alert_raised)


def _alert_staff(session: TreatmentSession) -> None:
    """Chest pain or shortness of breath after needling: the practitioner hears at once,
    by e-mail, that the worklist has something urgent (no name, no health information).
    The patient's practitioner, else the one who gave the session, else every one."""
    patient = session.patient
    chosen = [p for p in (patient.practitioner, session.recorded_by)
              if p is not None and p.active and p.is_staff]
    if chosen:
        people = chosen[:1]
    else:
        people = list(db.session.scalars(select(User).where(
            User.role.in_(STAFF_ROLES), User.active.is_(True),
            User.password_hash.is_not(None)).order_by(User.id)))
    link = _absolute("clinic.worklist")
    for person in people:
        mail.queue("safety_alert", person.email, person.locale, name=person.name, link=link)


def mark_alert_handled(rating: SessionRating, practitioner: User) -> bool:
    """Once: a second click (or a colleague at the same time) changes nothing."""
    result = db.session.execute(
        update(SessionRating)
        .where(SessionRating.id == rating.id, SessionRating.breathing_alert.is_(True),
               SessionRating.alert_handled_at.is_(None))
        .values(alert_handled_at=clock.now(), alert_handled_by_id=practitioner.id)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    audit.write("rating.safety_alert_handled", patient=rating.patient, actor=practitioner,
                subject=rating.session.public_id)
    db.session.commit()
    db.session.refresh(rating)
    return True


# --- reminders and closing (flask send-reminders) ---------------------------------------

@dataclass
class ReminderReport:
    reminded: int = 0
    closed: int = 0


def send_reminders(limit: int = 1000) -> ReminderReport:
    """Remind patients whose rating is overdue (once per session) and close the windows
    that have ended (once). Each row is claimed by a conditional UPDATE and its e-mail
    queued in the same transaction: running this twice, or in two places at once, sends
    nothing twice."""
    report = ReminderReport()
    now = clock.now()
    due = list(db.session.scalars(
        select(TreatmentSession.id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .join(User, User.id == Patient.user_id)
        .where(_overdue(now), TreatmentSession.reminder_sent_at.is_(None),
               User.active.is_(True))
        .order_by(TreatmentSession.rating_opens_at).limit(limit)))
    for session_id in due:
        claimed = db.session.execute(
            update(TreatmentSession)
            .where(TreatmentSession.id == session_id,
                   TreatmentSession.reminder_sent_at.is_(None), _overdue(now))
            .values(reminder_sent_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            db.session.rollback()
            continue
        session = db.session.get(TreatmentSession, session_id)
        user = session.patient.user
        mail.queue("rating_reminder", user.email, user.locale, name=user.name,
                   link=_absolute("treatment.rate", session_id=session.public_id))
        db.session.commit()
        report.reminded += 1
    rated = exists().where(SessionRating.session_id == TreatmentSession.id)
    closed = db.session.execute(
        update(TreatmentSession)
        .where(TreatmentSession.status == "recorded",
               TreatmentSession.rating_closed_at.is_(None),
               TreatmentSession.rating_opens_at <= now - _config("RATING_WINDOW"),
               not_(rated))
        .values(rating_closed_at=now)
        .execution_options(synchronize_session=False))
    report.closed = closed.rowcount or 0
    db.session.commit()
    return report


# --- outcome (SPEC 4.3, 4.4) ------------------------------------------------------------

def _outcome_row(patient: Patient) -> TreatmentOutcome:
    row = db.session.scalar(select(TreatmentOutcome)
                            .where(TreatmentOutcome.patient_id == patient.id))
    if row is not None:
        return row
    row = TreatmentOutcome(patient_id=patient.id, status=outcomes.UNKNOWN, rated_count=0,
                           updated_at=clock.now())
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # made meanwhile by another request
        row = db.session.scalar(select(TreatmentOutcome)
                                .where(TreatmentOutcome.patient_id == patient.id))
    return row


def baseline_override(patient: Patient) -> TreatmentOutcome | None:
    row = db.session.scalar(select(TreatmentOutcome)
                            .where(TreatmentOutcome.patient_id == patient.id))
    return row if row is not None and row.baseline_override is not None else None


@dataclass
class Baseline:
    value: int | None
    source: str  # "override", "intake" or "none"
    override: TreatmentOutcome | None = None


def baseline_for(patient: Patient) -> Baseline:
    """The practitioner's baseline when set, else the intake's average pain over the past
    week (SPEC 4.4)."""
    override = baseline_override(patient)
    if override is not None:
        return Baseline(override.baseline_override, "override", override)
    value = intake_link.nprs_baseline(patient)
    return Baseline(value, "intake" if value is not None else "none")


@dataclass
class RatedSession:
    session: TreatmentSession
    number: int
    rating: SessionRating


def rated_sessions(patient: Patient,
                   sessions: list[TreatmentSession] | None = None) -> list[RatedSession]:
    """Sessions that count (not cancelled) and have a rating, in order, with numbers."""
    sessions = sessions_for(patient) if sessions is None else sessions
    numbered = numbers(sessions)
    return [RatedSession(s, numbered[s.id], s.rating) for s in sessions
            if not s.cancelled and s.rating is not None]


def refresh_outcome(patient: Patient) -> TreatmentOutcome:
    """Classify again after anything that changes it (rating, cancellation, correction,
    baseline). Part of the caller's transaction."""
    db.session.flush()
    row = _outcome_row(patient)
    base = baseline_for(patient)
    rated = rated_sessions(patient)
    ratings = [r.rating.pain_now for r in rated]
    change = outcomes.classify_nprs(base.value, ratings)
    row.baseline = base.value
    row.latest_nprs = change.latest
    row.rated_count = len(ratings)
    row.status = change.status
    row.updated_at = clock.now()
    _store_points(patient, base.value, rated)
    return row


def _store_points(patient: Patient, baseline: int | None, rated: list[RatedSession]) -> None:
    """Bring the patient's OutcomePoint rows in step with their rated sessions: only the
    rows whose figures changed are written (a new rating usually adds one row and moves
    ``next_at`` of the one before)."""
    points = outcomes.course_points(baseline, [(r.number, r.rating.pain_now) for r in rated])
    stored = {p.rating_id: p for p in db.session.scalars(
        select(OutcomePoint).where(OutcomePoint.patient_id == patient.id))}
    for i, (item, point) in enumerate(zip(rated, points)):
        values = {**asdict(point), "session_at": item.session.treated_at,
                  "next_at": rated[i + 1].session.treated_at if i + 1 < len(rated) else None}
        row = stored.pop(item.rating.id, None)
        if row is None:
            db.session.add(OutcomePoint(patient_id=patient.id, rating_id=item.rating.id,
                                        **values))
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    for row in stored.values():  # ratings of sessions cancelled since
        db.session.delete(row)


@intake_link.intake_amended.connect
def _intake_amended(patient: Patient, **_kwargs) -> None:
    """An amendment may change the intake's baseline: a patient with an outcome gets it
    classified again in the amendment's transaction."""
    if db.session.scalar(select(exists().where(TreatmentOutcome.patient_id == patient.id))):
        refresh_outcome(patient)


def set_baseline(patient: Patient, practitioner: User, value: int | None,
                 reason: str | None) -> None:
    """Use ``value`` as the patient's NPRS baseline instead of the intake's (None goes back
    to the intake's). Audited; the reason is kept with it."""
    reason = (reason or "").strip() or None
    if value is not None and not reason:
        raise TreatmentError("reason")
    if value is not None and not 0 <= value <= 10:
        raise TreatmentError("nprs_range")
    row = _outcome_row(patient)
    row.baseline_override = value
    row.baseline_override_reason = reason if value is not None else None
    row.baseline_set_by_id = practitioner.id
    row.baseline_set_at = clock.now()
    audit.write("baseline.set" if value is not None else "baseline.cleared", patient=patient,
                actor=practitioner)
    refresh_outcome(patient)
    db.session.commit()


@dataclass
class PsfsPoint:
    session: TreatmentSession
    number: int
    scores: dict[str, int]
    mean: float | None


@dataclass
class Progress:
    baseline: Baseline
    rated: list[RatedSession]
    nprs: outcomes.NprsChange
    psfs_baseline: list[tuple[str, int]]
    psfs_points: list[PsfsPoint] = field(default_factory=list)
    psfs: outcomes.PsfsChange | None = None

    @property
    def psfs_baseline_mean(self) -> float | None:
        return outcomes.mean(score for _name, score in self.psfs_baseline)


def progress(patient: Patient, sessions: list[TreatmentSession] | None = None) -> Progress:
    """Everything the progress charts and the outcome badge need, computed fresh."""
    rated = rated_sessions(patient, sessions)
    base = baseline_for(patient)
    nprs = outcomes.classify_nprs(base.value, [r.rating.pain_now for r in rated])
    psfs_start = intake_link.psfs_baseline(patient)
    points = [PsfsPoint(r.session, r.number,
                        {item["activity"]: item["score"] for item in r.rating.psfs},
                        r.rating.psfs_mean)
              for r in rated if r.rating.psfs]
    psfs = outcomes.classify_psfs(dict(psfs_start), points[-1].scores) if points and \
        psfs_start else None
    return Progress(base, rated, nprs, psfs_start, points, psfs)


def record_sessions_view(viewer: User, patient: Patient) -> None:
    """Staff looking at a patient's sessions is a view of the record (SPEC 7.1). The stored
    outcome is brought up to date on the way (an intake amendment may have changed the
    baseline since the last rating)."""
    audit.write("sessions.viewed", patient=patient, actor=viewer)
    if db.session.scalar(select(TreatmentSession.id)
                         .where(TreatmentSession.patient_id == patient.id).limit(1)):
        refresh_outcome(patient)
    db.session.commit()


# --- the worklist (SPEC 5.1) ------------------------------------------------------------

def safety_alerts(limit: int = 50) -> list[SessionRating]:
    """Ratings that reported new chest pain or shortness of breath and that no one has
    marked handled yet, oldest first."""
    return list(db.session.scalars(
        select(SessionRating)
        .where(SessionRating.breathing_alert.is_(True), SessionRating.alert_handled_at.is_(None))
        .options(joinedload(SessionRating.patient).joinedload(Patient.user),
                 joinedload(SessionRating.session))
        .order_by(SessionRating.updated_at, SessionRating.id).limit(limit)))


def count_safety_alerts() -> int:
    return db.session.scalar(select(func.count()).select_from(SessionRating).where(
        SessionRating.breathing_alert.is_(True), SessionRating.alert_handled_at.is_(None))) or 0


def overdue_ratings(limit: int = 50) -> list[TreatmentSession]:
    """Sessions whose rating is past its reminder time and still open, oldest first."""
    return list(db.session.scalars(
        select(TreatmentSession).where(_overdue(clock.now()))
        .options(joinedload(TreatmentSession.patient).joinedload(Patient.user))
        .order_by(TreatmentSession.rating_opens_at, TreatmentSession.id).limit(limit)))


def count_overdue_ratings() -> int:
    return db.session.scalar(select(func.count()).select_from(TreatmentSession)
                             .where(_overdue(clock.now()))) or 0


def patients_by_outcome(status: str, limit: int = 50) -> list[TreatmentOutcome]:
    """Patients in treatment whose last classification is ``status``, latest change first."""
    return list(db.session.scalars(
        select(TreatmentOutcome)
        .join(Patient, Patient.id == TreatmentOutcome.patient_id)
        .where(TreatmentOutcome.status == status, Patient.status == "in_treatment")
        .options(joinedload(TreatmentOutcome.patient).joinedload(Patient.user))
        .order_by(TreatmentOutcome.updated_at.desc(), TreatmentOutcome.id).limit(limit)))


def count_by_outcome(status: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(TreatmentOutcome)
        .join(Patient, Patient.id == TreatmentOutcome.patient_id)
        .where(TreatmentOutcome.status == status, Patient.status == "in_treatment")) or 0


def worklist() -> dict[str, Any]:
    """What the worklist shows of treatment: the safety red flags (listed first), ratings
    overdue, patients worsening and patients who reached a meaningful improvement."""
    return {
        "safety_alerts": safety_alerts(), "safety_alert_count": count_safety_alerts(),
        "overdue_ratings": overdue_ratings(), "overdue_count": count_overdue_ratings(),
        "worsening": patients_by_outcome(outcomes.WORSE),
        "worsening_count": count_by_outcome(outcomes.WORSE),
        "improved": patients_by_outcome(outcomes.IMPROVED),
        "improved_count": count_by_outcome(outcomes.IMPROVED),
    }
