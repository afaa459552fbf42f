"""Recording, correcting and cancelling sessions behind the clearance, consent and
red-flag gate (SPEC 4.1); a staff view of a patient's sessions is audited here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from blinker import Namespace
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, clock, mail
from portal.extensions import db
from portal.intake import bodymap
from portal.links import absolute_url
from portal.models import Patient, TreatmentSession, User
from portal.treatment import intake_link, safety
from portal.treatment.outcome import refresh_outcome
from portal.treatment.times import (
    FUTURE_TOLERANCE,
    NOT_OVERRIDABLE,
    TreatmentError,
    check_override,
    clinic_date,
    closes_at,
    override_reason,
    rating_opens_for,
    take_write_lock,
)

# --- the gate (SPEC 4.1) ----------------------------------------------------------------

@dataclass
class Gate:
    """Each check of the gate, in GATES order; a new check is one more field here, one more
    name in GATES and its label in display.gates."""
    cleared: bool
    consented: bool  # the current consent signed, and not withdrawn, by then
    # Not consented because the patient withdrew their consent by then (and has not signed
    # since): "consent_withdrawn" instead of "consent", which no reason overrides.
    withdrawn: bool = False
    # Its consent discussion recorded by then (only asked when ``consented``: without a
    # signature there is nothing to discuss yet, and the first failure says so).
    discussed: bool = True
    # Signed again after a withdrawal: a missing discussion is "consent_rediscussion", which
    # no reason overrides either (a new consent and a new discussion, SPEC 11.1).
    resigned: bool = False
    # The red flags no practitioner had reviewed or acknowledged by then: the intake's and
    # the safety alerts after earlier sessions (none: the check passes).
    red_flags: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [name for name, ok in (("clearance", self.cleared),
                                      ("consent_withdrawn" if self.withdrawn else "consent",
                                       self.consented),
                                      ("consent_rediscussion" if self.resigned
                                       else "consent_discussion",
                                       not self.consented or self.discussed),
                                      ("red_flags", not self.red_flags)) if not ok]

    @property
    def open(self) -> bool:
        return not self.missing

    @property
    def final(self) -> bool:
        """Shut by a check no reason passes (NOT_OVERRIDABLE)."""
        return bool(NOT_OVERRIDABLE.intersection(self.missing))


def gate(patient: Patient, at: datetime | None = None) -> Gate:
    """May ``patient`` be treated at ``at`` (a session's time; default now)? A clearance
    valid on that day (the clinic's date), the current consent signed (not withdrawn) and
    discussed with the practitioner by that time, and no red flag of the intake left
    unreviewed, nor safety alert after a session unacknowledged, at that time."""
    consent = intake_link.consent_at(patient, at=at)
    return Gate(cleared=intake_link.is_cleared(patient, on=clinic_date(at) if at else None),
                consented=consent.signed, discussed=consent.discussed,
                withdrawn=consent.withdrawn, resigned=consent.resigned,
                red_flags=(intake_link.unreviewed_red_flags(patient, at=at)
                           + safety.unacknowledged_at(patient, at=at)))


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


def _by_form_key(patient: Patient, form_key: str | None) -> TreatmentSession | None:
    if not form_key:
        return None
    return db.session.scalar(select(TreatmentSession).where(
        TreatmentSession.patient_id == patient.id, TreatmentSession.form_key == form_key))


def record_session(patient: Patient, practitioner: User, data: SessionInput,
                   given_reason: str | None = None,
                   form_key: str | None = None) -> TreatmentSession:
    """Record a session, if the patient is cleared on its day and has signed the current
    consent, or if the practitioner gives a reason to go ahead anyway (audited and shown
    on the patient's page). Opens the patient's rating and e-mails them (no health
    information). The same form sent twice (``form_key``) records one session.
    Raises GateRefused or TreatmentError."""
    values = _clean(data)
    reason = override_reason(given_reason)
    form_key = (form_key or "")[:32] or None
    take_write_lock()
    already = _by_form_key(patient, form_key)
    if already is not None:
        db.session.rollback()
        return already
    checks = gate(patient, at=values["treated_at"])
    try:
        check_override(checks.missing, reason)
    except TreatmentError:
        db.session.rollback()
        raise
    now = clock.now()
    session = TreatmentSession(patient_id=patient.id, recorded_by_id=practitioner.id,
                               created_at=now, updated_at=now, status="recorded",
                               corrections=[], form_key=form_key,
                               rating_opens_at=rating_opens_for(values["treated_at"], now),
                               **values)
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
        _audit_override(session, practitioner, checks.missing, reason)
    if patient.status == "discharged":
        # A session for a discharged patient re-admits them, as the chart's button does.
        readmit(patient, practitioner, "in_treatment")
    if patient.status != "in_treatment":
        patient.status = "in_treatment"
    patient.last_activity_at = now
    user = patient.user
    if user.active and user.has_password and session.rating_opens_at < closes_at(session):
        # Sent when the rating opens (the day after the session), not now: the outbox
        # holds it until then.
        mail.queue("rating_due", user.email, user.locale, name=user.name,
                   link=_rating_link(session), deliver_at=session.rating_opens_at)
    # A session given before others renumbers them: the stored outcome points follow.
    refresh_outcome(patient)
    db.session.commit()
    return session


# --- re-admission --------------------------------------------------------------------------

_signals = Namespace()
# Sent by readmit() with the patient (and ``actor``), inside its transaction: what the
# discharge set going is stopped in the same commit (the follow-ups after discharge still
# pending are cancelled, SPEC 12.1; a feature above this one listens, as it may not be
# imported here).
patient_readmitted = _signals.signal("patient-readmitted")


def readmit(patient: Patient, actor: User, status: str) -> bool:
    """Back from discharge at ``status``, in the caller's transaction: from the chart's
    button (the status the record gives) or by recording a session ("in_treatment"). Once:
    a conditional UPDATE, so that two at once re-admit (and audit, and cancel) once; False
    when the patient is not discharged (any more)."""
    result = cast(CursorResult[Any], db.session.execute(
        update(Patient).where(Patient.id == patient.id, Patient.status == "discharged")
        .values(status=status, discharged_at=None, discharge_reason=None,
                last_activity_at=clock.now())))
    if result.rowcount != 1:
        return False
    audit.write("patient.readmitted", patient=patient, actor=actor, detail={"to": status})
    patient_readmitted.send(patient, actor=actor)
    return True


def _rating_link(session: TreatmentSession) -> str:
    return absolute_url("treatment.rate", session_id=session.public_id)


def _audit_override(session: TreatmentSession, practitioner: User, missing: list[str],
                    reason: str | None) -> None:
    """The override's reason is kept with the session and in its audit event, where the
    reviewer of the log reads why the gate was passed (SPEC 4.1, 7)."""
    audit.write("session.gate_overridden", patient=session.patient, actor=practitioner,
                subject=session.public_id, detail={"missing": missing, "reason": reason})


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def correct_session(session: TreatmentSession, practitioner: User, data: SessionInput,
                    reason: str, override: str | None = None) -> TreatmentSession:
    """Change what was recorded. The values replaced are kept on the session with who,
    when and why; the audit log says which fields changed (not their values). The gate is
    checked again at the corrected time (SPEC 4.1): a session moved to a day it does not
    pass is refused unless ``override`` gives a reason to go ahead."""
    if session.cancelled:
        raise TreatmentError("cancelled")
    reason = (reason or "").strip()
    if not reason:
        raise TreatmentError("reason")
    values = _clean(data)
    changes = _changes(session, values)
    if not changes:
        raise TreatmentError("unchanged")
    missing = _gate_for_correction(session, values["treated_at"], "treated_at" in changes,
                                   override_reason(override))
    previous = {}
    for name, value in changes.items():
        old = getattr(session, name)
        previous[name] = old.isoformat() if isinstance(old, datetime) else old
        setattr(session, name, value)
    now = clock.now()
    if "treated_at" in previous:
        session.rating_opens_at = rating_opens_for(session.treated_at, session.created_at)
        # The "rating due" e-mail, if still waiting, goes when the rating now opens.
        opens = session.rating_opens_at
        mail.reschedule("rating_due", _rating_link(session),
                        opens if opens < closes_at(session) else None)
    if missing:
        previous["override_reason"] = session.override_reason
        session.override_gates = missing
        session.override_reason = override_reason(override)
    session.corrections = [*session.corrections, {
        "at": now.isoformat(), "by": practitioner.public_id, "by_name": practitioner.name,
        "reason": reason, "previous": previous}]
    session.updated_at = now
    audit.write("session.corrected", patient=session.patient, actor=practitioner,
                subject=session.public_id, detail={"fields": sorted(previous)})
    if missing:
        _audit_override(session, practitioner, missing, session.override_reason)
    refresh_outcome(session.patient)
    db.session.commit()
    return session


def _changes(session: TreatmentSession, values: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for name, value in values.items():
        old = getattr(session, name)
        if name == "treated_at" and _minute(old) == _minute(value):
            continue  # the form shows minutes: the same minute is no change
        if old != value:
            changes[name] = value
    return changes


def _gate_for_correction(session: TreatmentSession, treated_at: datetime, moved: bool,
                         reason: str | None) -> list[str]:
    """The gate at the corrected time. What the session's own override already passed
    still holds while its time stays; a new time needs the gate, or a new reason. Returns
    the checks a new override passes (none when the gate is open or already overridden);
    raises GateRefused."""
    missing = gate(session.patient, at=treated_at).missing
    passed = set(session.override_gates or [])
    # Overridden before a withdrawal, or a signature again after one, was told apart.
    if "consent" in passed:
        passed.add("consent_withdrawn")
    if "consent_discussion" in passed:
        passed.add("consent_rediscussion")
    if not moved and set(missing) <= passed:
        return []
    if missing:
        check_override(missing, reason)
    return missing


def cancel_session(session: TreatmentSession, practitioner: User, reason: str) -> None:
    """A cancelled session stays in the record, marked, with who and why; its rating (if
    any) no longer counts and an unrated one is no longer asked for."""
    reason = (reason or "").strip()
    if not reason:
        raise TreatmentError("reason")
    now = clock.now()
    result = cast(CursorResult[Any], db.session.execute(
        update(TreatmentSession)
        .where(TreatmentSession.id == session.id, TreatmentSession.status == "recorded")
        .values(status="cancelled", cancelled_at=now, cancelled_by_id=practitioner.id,
                cancel_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        raise TreatmentError("already_cancelled")
    db.session.refresh(session)
    audit.write("session.cancelled", patient=session.patient, actor=practitioner,
                subject=session.public_id)
    # Its "rating due" e-mail, if still waiting for the rating to open, is not sent.
    mail.reschedule("rating_due", _rating_link(session), None)
    refresh_outcome(session.patient)
    db.session.commit()



def record_sessions_view(viewer: User, patient: Patient) -> None:
    """Staff looking at a patient's sessions is a view of the record (SPEC 7.1). The stored
    outcome is brought up to date on the way (an intake amendment may have changed the
    baseline since the last rating)."""
    audit.write("sessions.viewed", patient=patient, actor=viewer)
    if db.session.scalar(select(TreatmentSession.id)
                         .where(TreatmentSession.patient_id == patient.id).limit(1)):
        refresh_outcome(patient)
    db.session.commit()
