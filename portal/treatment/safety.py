"""The safety check after a session and the patient's "I have a problem after my session"
(SPEC 4.2), and the clinic's acknowledgement of them (SPEC 5.1).

What is asked: the warning signs of a pneumothorax after needling near the chest, from
CLINICAL.md, "Dry needling / IMS precautions and consent": new or sudden chest pain,
shortness of breath, pain on breathing in, and new upper back, shoulder or neck pain
(published cases present with it too, sometimes hours after the session). The advice shown
on any "yes" is the same section's: seek urgent care now, call 911 or go to an emergency
department, do not drive yourself (templates/treatment/_urgent_advice.html).

* The **check** is one per session, open on the patient's home from the moment the session
  is recorded until SAFETY_CHECK_DAYS after the session's time (not for a cancelled
  session). A "no" is stored too, so the card leaves the home page; sending the same check
  again (a double click) changes nothing.
* A **problem** can be reported from home while the patient has a recorded session in the
  past SAFETY_CHECK_DAYS; it is linked to the latest one.
* Any "yes", and every problem reported, is an **alert**: a red flag for the whole clinic
  (the worklist's first section, whoever the patient's practitioner is) and an e-mail to
  every active member of staff (an admin is also a practitioner, SPEC 1.1), or only to
  CLINIC_ALERT_EMAIL when the clinic set one. The e-mail says only that the worklist has
  something urgent (SPEC 6.1); it is queued in the report's transaction (portal/mail.py).
* It stays until a practitioner **acknowledges** it with a note, once: a colleague at the
  same moment is told who did it first, and nothing changes.
"""
from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, exists, not_, select, update
from sqlalchemy.orm import joinedload

from portal import audit, clock, mail
from portal.auth import services as auth_services
from portal.extensions import db
from portal.links import absolute_url
from portal.models import Patient, SafetyReport, TreatmentSession, User
from portal.treatment.times import take_write_lock

# The warning signs, in the order the patient reads them (CLINICAL.md, "Dry needling / IMS
# precautions and consent").
SYMPTOMS = ("shortness_of_breath", "chest_pain", "pain_breathing_in",
            "upper_back_shoulder_neck_pain")

NOTE_MIN = 3
NOTE_MAX = 2000
COMMENT_MAX = 2000
# A problem sent twice within this time with the same answers is one report (a double
# click, a retried request).
_SAME_PROBLEM = timedelta(minutes=10)


def symptom_labels() -> dict[str, Any]:
    """The patient's words for each sign, in the order asked."""
    return {
        "shortness_of_breath": _l("New shortness of breath"),
        "chest_pain": _l("Chest pain"),
        "pain_breathing_in": _l("Pain when you breathe in"),
        "upper_back_shoulder_neck_pain": _l("New pain in the upper back, shoulder or neck"),
    }


def labels(codes: Iterable[str]) -> list[str]:
    known = symptom_labels()
    return [str(known[code]) for code in codes if code in known]


class SafetyError(Exception):
    """closed (the window has ended), cancelled, symptoms (an unknown answer), empty (a
    problem with nothing said), note (acknowledgement note missing or too long), comment
    (too long), acknowledged (someone did it first: ``report`` says who and when)."""

    def __init__(self, code: str, report: SafetyReport | None = None):
        super().__init__(code)
        self.code = code
        self.report = report


def window() -> timedelta:
    return timedelta(days=current_app.config["SAFETY_CHECK_DAYS"])


def check_closes_at(session: TreatmentSession) -> datetime:
    return session.treated_at + window()


def can_check(session: TreatmentSession, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return session.status == "recorded" and now < check_closes_at(session)


def _recent(patient: Patient, now: datetime):
    return (TreatmentSession.patient_id == patient.id,
            TreatmentSession.status == "recorded",
            TreatmentSession.treated_at > now - window(),
            TreatmentSession.treated_at <= now)


def to_check(patient: Patient) -> list[TreatmentSession]:
    """The sessions whose safety check waits, oldest first (it closes first)."""
    checked = exists().where(SafetyReport.session_id == TreatmentSession.id,
                             SafetyReport.kind == "check")
    now = clock.now()
    return list(db.session.scalars(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id,
               TreatmentSession.status == "recorded",
               TreatmentSession.treated_at > now - window(), not_(checked))
        .order_by(TreatmentSession.treated_at, TreatmentSession.id)))


def latest_recent_session(patient: Patient) -> TreatmentSession | None:
    """The latest recorded session of the past SAFETY_CHECK_DAYS: while there is one, the
    patient can report a problem."""
    return db.session.scalar(select(TreatmentSession).where(*_recent(patient, clock.now()))
                             .order_by(TreatmentSession.treated_at.desc(),
                                       TreatmentSession.id.desc()).limit(1))


def _clean(symptoms: Iterable[str]) -> list[str]:
    chosen = set(symptoms)
    if not chosen <= set(SYMPTOMS):
        raise SafetyError("symptoms")
    return [code for code in SYMPTOMS if code in chosen]


def answer_check(session: TreatmentSession, patient_user: User,
                 symptoms: Iterable[str]) -> tuple[SafetyReport, bool]:
    """The patient's safety check of ``session``: (the report, whether it was stored now).
    Sent again, the stored one stands. Raises SafetyError("cancelled" | "closed" |
    "symptoms")."""
    try:
        return _answer_check(session, patient_user, _clean(symptoms))
    except SafetyError:
        db.session.rollback()  # let go of SQLite's write lock at once
        raise


def _answer_check(session: TreatmentSession, patient_user: User,
                  symptoms: list[str]) -> tuple[SafetyReport, bool]:
    patient = session.patient
    if patient.user_id != patient_user.id:
        raise LookupError("not this patient's session")  # views answer 404 before this
    take_write_lock()
    if db.session.get_bind().dialect.name == "postgresql":
        # One check per session: two submissions at once wait for each other here.
        db.session.execute(select(TreatmentSession.id)
                           .where(TreatmentSession.id == session.id).with_for_update())
    db.session.refresh(session)
    existing = db.session.scalar(select(SafetyReport).where(
        SafetyReport.session_id == session.id, SafetyReport.kind == "check").limit(1))
    if existing is not None:
        db.session.rollback()
        return existing, False
    if session.cancelled:
        raise SafetyError("cancelled")
    if not can_check(session):
        raise SafetyError("closed")
    report = SafetyReport(patient_id=patient.id, session_id=session.id, kind="check",
                          symptoms=symptoms, alert=bool(symptoms), created_at=clock.now())
    _store(report, patient, patient_user)
    return report, True


def report_problem(patient_user: User, symptoms: Iterable[str],
                   comment: str | None) -> tuple[SafetyReport, bool]:
    """The patient's own report of a problem after a session, linked to the latest one of
    the past SAFETY_CHECK_DAYS. Raises SafetyError("closed" | "symptoms" | "empty" |
    "comment")."""
    try:
        return _report_problem(patient_user, _clean(symptoms), (comment or "").strip() or None)
    except SafetyError:
        db.session.rollback()
        raise


def _report_problem(patient_user: User, symptoms: list[str],
                    comment: str | None) -> tuple[SafetyReport, bool]:
    if not symptoms and not comment:
        raise SafetyError("empty")
    if comment is not None and len(comment) > COMMENT_MAX:
        raise SafetyError("comment")
    patient = patient_user.patient
    if patient is None:
        raise LookupError("not a patient")  # views answer 404 before this
    take_write_lock()
    session = latest_recent_session(patient)
    if session is None:
        raise SafetyError("closed")
    now = clock.now()
    for earlier in db.session.scalars(select(SafetyReport).where(
            SafetyReport.patient_id == patient.id, SafetyReport.kind == "problem",
            SafetyReport.created_at > now - _SAME_PROBLEM)):
        if earlier.symptoms == symptoms and earlier.comment == comment:
            db.session.rollback()
            return earlier, False
    report = SafetyReport(patient_id=patient.id, session_id=session.id, kind="problem",
                          symptoms=symptoms, comment=comment, alert=True, created_at=now)
    _store(report, patient, patient_user)
    return report, True


def _store(report: SafetyReport, patient: Patient, patient_user: User) -> None:
    db.session.add(report)
    db.session.flush()
    patient.last_activity_at = report.created_at
    # The audit says what happened, not what the patient felt (no health data in it).
    audit.write("safety.reported", patient=patient, actor=patient_user,
                subject=report.public_id, detail={"kind": report.kind, "alert": report.alert})
    if report.alert:
        alert_clinic()
    db.session.commit()


def alert_recipients() -> list[tuple[str, str | None, str | None]]:
    """(address, language, name) of whoever hears of a red flag: CLINIC_ALERT_EMAIL alone
    when set, else every active member of staff who has joined (SPEC 5.1)."""
    address = (current_app.config.get("CLINIC_ALERT_EMAIL") or "").strip()
    if address:
        return [(address, None, None)]
    return [(person.email, person.locale, person.name)
            for person in auth_services.active_staff()]


def alert_clinic() -> None:
    """Queue the e-mail (in the caller's transaction; the worker sends it): that the
    worklist has something urgent, and a link, nothing more."""
    link = absolute_url("clinic.worklist")
    for address, locale, name in alert_recipients():
        mail.queue("safety_alert", address, locale, name=name, link=link)


def acknowledge(report: SafetyReport, practitioner: User, note: str | None) -> SafetyReport:
    """Once, with a note. Raises SafetyError("note") for a note missing or too long, and
    SafetyError("acknowledged", report) when someone acknowledged it first (``report``
    then says who and when); nothing is changed either way."""
    note = (note or "").strip()
    if len(note) < NOTE_MIN or len(note) > NOTE_MAX:
        raise SafetyError("note")
    result = cast(CursorResult[Any], db.session.execute(
        update(SafetyReport)
        .where(SafetyReport.id == report.id, SafetyReport.alert.is_(True),
               SafetyReport.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.now(), acknowledged_by_id=practitioner.id,
                acknowledgement_note=note)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(report)
        raise SafetyError("acknowledged", report)
    audit.write("safety.acknowledged", patient=report.patient, actor=practitioner,
                subject=report.public_id)
    db.session.commit()
    db.session.refresh(report)
    return report


def report_by_public_id(public_id: str) -> SafetyReport | None:
    if not public_id or len(public_id) > 32:
        return None
    return db.session.scalar(select(SafetyReport).where(SafetyReport.public_id == public_id)
                             .options(joinedload(SafetyReport.patient).joinedload(Patient.user),
                                      joinedload(SafetyReport.session)))


def alerts_for(patient: Patient) -> list[SafetyReport]:
    """The patient's red flags after sessions, open ones first, newest first: the chart
    shows who acknowledged each, and what they wrote."""
    return list(db.session.scalars(
        select(SafetyReport).where(SafetyReport.patient_id == patient.id,
                                   SafetyReport.alert.is_(True))
        .options(joinedload(SafetyReport.session), joinedload(SafetyReport.acknowledged_by))
        .order_by(SafetyReport.acknowledged_at.is_not(None), SafetyReport.created_at.desc(),
                  SafetyReport.id.desc())))


def open_alerts_of(patient: Patient) -> list[SafetyReport]:
    """The patient's own red flags of the past SAFETY_CHECK_DAYS that the clinic has not
    acknowledged yet: their home page keeps the urgent advice in sight meanwhile."""
    return list(db.session.scalars(
        select(SafetyReport).where(SafetyReport.patient_id == patient.id,
                                   SafetyReport.alert.is_(True),
                                   SafetyReport.acknowledged_at.is_(None),
                                   SafetyReport.created_at > clock.now() - window())
        .order_by(SafetyReport.created_at.desc())))


def unacknowledged_at(patient: Patient, at: datetime | None = None) -> list[str]:
    """The labels of the patient's safety alerts raised by ``at`` (default: now) that no
    practitioner had acknowledged by then: a red flag the treatment gate holds a session for
    (SPEC 4.1), like an intake red flag no one had reviewed. An acknowledgement given after
    the session's time does not cover it."""
    at = at or clock.now()
    reports = db.session.scalars(
        select(SafetyReport).where(
            SafetyReport.patient_id == patient.id, SafetyReport.alert.is_(True),
            SafetyReport.created_at <= at,
            (SafetyReport.acknowledged_at.is_(None)) | (SafetyReport.acknowledged_at > at))
        .order_by(SafetyReport.created_at))
    found: list[str] = []
    # Outside a request (a task, the command line) there is no reader: English labels.
    with nullcontext() if has_request_context() else force_locale("en"):
        for report in reports:
            for label in labels(report.symptoms) or [str(_l("A problem after a session"))]:
                if label not in found:
                    found.append(label)
    return found
