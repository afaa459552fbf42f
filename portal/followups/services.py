"""Follow-ups after discharge (SPEC 12.1): the rules and the commits.

* **Scheduling**: a discharge schedules one follow-up per delay the clinic set
  (``ClinicSettings.follow_up_first_weeks`` / ``_second_weeks``, 6 and 12 by default, NULL
  for none). None when the reason is in NO_FOLLOW_UP_REASONS ("moved away", "deceased"),
  when the patient declined follow-ups or closed their account. Re-admission cancels the
  ones not answered yet.
* **Sending** (``send_due``, the worker's schedule): each due follow-up is claimed by a
  conditional UPDATE and its e-mail queued in the same transaction, so two workers or two
  ticks at once send it once; one reminder REMINDER_AFTER later if still unanswered. One
  due longer ago than LINK_VALID_FOR (the worker was stopped) is cancelled, not sent.
* **The link's secret**: the raw token cannot be stored (only its SHA-256 is, in
  ``token_hash``), yet the reminder must carry a link that works, and the first e-mail's
  link must keep working after the reminder. So the token is derived, not drawn: an
  HMAC-SHA256 of the follow-up's random public id under the app's SECRET_KEY
  (``link_token``). The database alone (a stolen copy) cannot rebuild it; the worker can, at
  send and at reminder time, and both e-mails carry the same link. Should SECRET_KEY change
  between the two, the reminder's token no longer matches the stored hash: the hash is then
  replaced, so the reminder's link works and the first one stops (as after any key change).
* **Answering** once, by the link (no sign-in: the link is the key, until
  ``token_expires_at``) or signed in; "improvement kept" is portal.outcomes' improvement
  rule applied to the answer's pain against the baseline, and whether the patient was a
  responder at discharge is read then too (at_discharge: the last session's rating may
  have come after the discharge).
* **Declining**: one click sets ``Patient.follow_ups_declined_at`` and declines every
  follow-up not answered; it can be undone from the account page (future discharges only).

Nothing here reads the request: views pass what they parsed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, case, select, update

from portal import audit, clock, mail, outcomes
from portal.clinic_settings import current_settings
from portal.extensions import db
from portal.links import absolute_url
from portal.models import NO_FOLLOW_UP_REASONS, FollowUp, OutcomePoint, Patient, User
from portal.treatment import intake_link
from portal.treatment.outcome import baseline_for

# The link works this long after the follow-up is e-mailed; the reminder goes this long
# after the first e-mail, once.
LINK_VALID_FOR = timedelta(days=28)
REMINDER_AFTER = timedelta(days=7)
# Not answered yet: what re-admission cancels and declining declines.
PENDING = ("scheduled", "sent")


class FollowUpError(Exception):
    """A refusal to show to the patient; ``code`` picks the page (views)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- reading (the chart, worklist, progress and outcomes read these too) ------------------

def for_patient(patient: Patient) -> list[FollowUp]:
    """Every follow-up of the patient, oldest due first (all discharges)."""
    return list(db.session.scalars(select(FollowUp).where(FollowUp.patient_id == patient.id)
                                   .order_by(FollowUp.due_at, FollowUp.id)))


def is_open(follow_up: FollowUp, now: datetime | None = None) -> bool:
    """E-mailed, not answered, and its link still valid: the questionnaire can be answered."""
    now = now or clock.now()
    return (follow_up.status == "sent" and follow_up.token_expires_at is not None
            and follow_up.token_expires_at > now
            and follow_up.patient.account_closed_at is None)


def open_for(patient: Patient) -> list[FollowUp]:
    """The follow-ups the patient can answer now (their home page shows them)."""
    now = clock.now()
    return [f for f in for_patient(patient) if is_open(f, now)]


def has_page(patient: Patient) -> bool:
    """Whether the patient's home links to their follow-ups page: they have had some, or
    declined them (and may want to undo it)."""
    return patient.follow_ups_declined_at is not None or db.session.scalar(
        select(FollowUp.id).where(FollowUp.patient_id == patient.id,
                                  FollowUp.status != "cancelled").limit(1)) is not None


def find_mine(user: User, public_id: str) -> FollowUp | None:
    """The signed-in patient's own follow-up by its public id; None for anyone else's."""
    if user.patient is None:
        return None
    return db.session.scalar(select(FollowUp).where(FollowUp.public_id == public_id,
                                                    FollowUp.patient_id == user.patient.id))


# An expired link still declines while its follow-up was neither answered nor cancelled
# (declined: the page that says it is done), and only while it follows the patient's
# latest discharge: a years-old e-mail must not stop a later discharge's follow-ups once
# the patient has welcomed them again.
DECLINE_AFTER_EXPIRY = ("sent", "declined")


def _declinable_after_expiry(follow_up: FollowUp) -> bool:
    return (follow_up.status in DECLINE_AFTER_EXPIRY
            and follow_up.discharged_at == follow_up.patient.discharged_at)


def find_by_token(token: str, to_decline: bool = False) -> FollowUp | None:
    """The follow-up an e-mailed link opens, whatever its state (the view tells an answered
    or declined one apart from an open one); None for an unknown, malformed or expired link,
    a closed account or a disposed record. ``to_decline``: the e-mail promises that one
    click stops the follow-ups, so its decline link outlives the questions' (while the
    follow-up is still sent or already declined, and of the patient's latest discharge),
    as later ones of that discharge may still be e-mailed."""
    if not token or len(token) > 200:
        return None
    follow_up = db.session.scalar(select(FollowUp).where(
        FollowUp.token_hash == hashlib.sha256(token.encode()).hexdigest()))
    if follow_up is None or follow_up.token_expires_at is None:
        return None
    if follow_up.patient.account_closed_at or follow_up.patient.status == "disposed":
        return None
    if follow_up.token_expires_at <= clock.now() and not (
            to_decline and _declinable_after_expiry(follow_up)):
        return None
    return follow_up


def psfs_activities(patient: Patient) -> list[str]:
    """The PSFS activities named at intake, asked again in the follow-up."""
    return [name for name, _score in intake_link.psfs_baseline(patient)]


def kept(baseline: int | None, pain_average: int) -> bool | None:
    """Improvement kept: portal.outcomes' improvement rule (at least 2 points and at least
    30% below the baseline; IMMPACT, Dworkin 2008; Farrar 2001) on the follow-up's pain.
    None when there is no baseline to compare with."""
    if baseline is None:
        return None
    return outcomes.nprs_improved(baseline, pain_average)


# --- the link's secret --------------------------------------------------------------------

def link_token(follow_up: FollowUp) -> str:
    """The secret of the follow-up's e-mailed link (see the module's docstring)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, b"follow-up:" + follow_up.public_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _link(token: str) -> str:
    return absolute_url("followups.answer_by_link", token=token)


def _decline_link(token: str) -> str:
    return absolute_url("followups.decline_by_link", token=token)


# --- scheduling ---------------------------------------------------------------------------

def configured_weeks() -> list[int]:
    """The delays the clinic set, in weeks (none, one or two; a repeated one once)."""
    settings = current_settings()
    weeks = [settings.follow_up_first_weeks, settings.follow_up_second_weeks]
    return sorted({w for w in weeks if w})


def at_discharge(patient: Patient, discharged_at: datetime) -> tuple[int | None, bool]:
    """The NPRS baseline now, and whether the patient was a responder at the discharge at
    ``discharged_at``: their outcome after the last rated session given before it. A
    session's rating opens a day after it and can come after the discharge (a discharge the
    day of the last session), so this is read when the follow-up is answered, from the
    outcome points the treatment services keep in step with every rating and baseline."""
    point = db.session.scalar(
        select(OutcomePoint).where(OutcomePoint.patient_id == patient.id,
                                   OutcomePoint.session_at < discharged_at)
        .order_by(OutcomePoint.session_at.desc(), OutcomePoint.id.desc()).limit(1))
    return (baseline_for(patient).value,
            point is not None and point.status == outcomes.IMPROVED)


def schedule(patient: Patient, actor: User | None, discharged_at: datetime, reason: str,
             weeks: list[int]) -> list[FollowUp]:
    """Follow-ups for the discharge at ``discharged_at``, in the caller's transaction (the
    discharge's); ``weeks`` from configured_weeks(), read before the discharge began. The
    baseline and the responder flag stored here are as they stand now; answer() works them
    out again (at_discharge), when the last session's rating has had its time."""
    if reason in NO_FOLLOW_UP_REASONS or patient.follow_ups_declined_at is not None \
            or patient.account_closed_at is not None or not weeks:
        return []
    baseline, improved = at_discharge(patient, discharged_at)
    made = []
    for w in weeks:
        follow_up = FollowUp(patient_id=patient.id, discharged_at=discharged_at, weeks=w,
                             due_at=discharged_at + timedelta(weeks=w), status="scheduled",
                             baseline=baseline, improved_at_discharge=improved)
        db.session.add(follow_up)
        made.append(follow_up)
    db.session.flush()
    audit.write("follow_up.scheduled", patient=patient, actor=actor,
                detail={"weeks": weeks})
    return made


def cancel_pending(patient: Patient, actor: User | None, why: str) -> int:
    """Cancel the follow-ups not answered yet (re-admission: ``why`` "readmitted"), in the
    caller's transaction; returns how many."""
    result = cast(CursorResult[Any], db.session.execute(
        update(FollowUp).where(FollowUp.patient_id == patient.id,
                               FollowUp.status.in_(PENDING))
        .values(status="cancelled", cancelled_at=clock.now())
        .execution_options(synchronize_session=False)))
    count = result.rowcount or 0
    if count:
        audit.write("follow_up.cancelled", patient=patient, actor=actor,
                    detail={"reason": why, "count": count})
    return count


# --- sending (the worker) -----------------------------------------------------------------

@dataclass
class SendReport:
    sent: int = 0
    reminded: int = 0


def _mail_allowed():
    return (Patient.follow_ups_declined_at.is_(None), Patient.account_closed_at.is_(None),
            User.active.is_(True))


# The rows whose e-mail failed, remembered by this process (no column keeps it): the
# first failure of a row is logged with its traceback, the next ones in one line, and those
# rows are taken after every other due row, so that a batch of rows that keep failing
# cannot hold back the other patients' e-mails. Bounded: more rows than this failing at
# once is an outage, not a bad row, and the oldest are forgotten (logged in full again).
FAILING_REMEMBERED = 1000


def _failing() -> OrderedDict[int, None]:
    return current_app.extensions.setdefault("follow_up_send_failures", OrderedDict())


def send_due(limit: int = 500) -> SendReport:
    """E-mail the follow-ups that are due, and the reminders, each exactly once. One that
    fails (logged) leaves the others to go; it is tried again at the next tick, after the
    rows that have not failed."""
    report = SendReport()
    now = clock.now()
    failing = list(_failing())
    last = [case((FollowUp.id.in_(failing), 1), else_=0)] if failing else []
    due = list(db.session.scalars(
        select(FollowUp.id).join(Patient, Patient.id == FollowUp.patient_id)
        .join(User, User.id == Patient.user_id)
        .where(FollowUp.status == "scheduled", FollowUp.due_at <= now, *_mail_allowed())
        .order_by(*last, FollowUp.due_at).limit(limit)))
    report.sent = _each(due, _send_one, now)
    remind = list(db.session.scalars(
        select(FollowUp.id).join(Patient, Patient.id == FollowUp.patient_id)
        .join(User, User.id == Patient.user_id)
        .where(FollowUp.status == "sent", FollowUp.reminded_at.is_(None),
               FollowUp.sent_at <= now - REMINDER_AFTER, FollowUp.token_expires_at > now,
               *_mail_allowed())
        .order_by(*last, FollowUp.sent_at).limit(limit)))
    report.reminded = _each(remind, _remind_one, now)
    db.session.commit()
    return report


def _each(ids: list[int], one, now: datetime) -> int:
    done = 0
    failing = _failing()
    for follow_up_id in ids:
        try:
            done += one(follow_up_id, now)
        except Exception:  # one bad row must not stop every other patient's e-mail
            db.session.rollback()
            if follow_up_id in failing:
                current_app.logger.warning("follow-up %s: not sent again, tried again later",
                                           follow_up_id)
            else:
                current_app.logger.exception("follow-up %s: not sent, tried again later",
                                             follow_up_id)
            failing[follow_up_id] = None
            failing.move_to_end(follow_up_id)
            while len(failing) > FAILING_REMEMBERED:
                failing.popitem(last=False)
        else:
            failing.pop(follow_up_id, None)
    return done


def _claim(follow_up_id: int, where, **values) -> FollowUp | None:
    claimed = cast(CursorResult[Any], db.session.execute(
        update(FollowUp).where(FollowUp.id == follow_up_id, *where).values(**values)
        .execution_options(synchronize_session=False)))
    if claimed.rowcount != 1:
        db.session.rollback()
        return None
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is not None:
        db.session.refresh(follow_up)
    return follow_up


def _send_one(follow_up_id: int, now: datetime) -> int:
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None:
        return 0
    if follow_up.due_at <= now - LINK_VALID_FOR:
        _too_late(follow_up_id, now)
        return 0
    token = link_token(follow_up)
    claimed = _claim(follow_up_id, (FollowUp.status == "scheduled",), status="sent",
                     sent_at=now, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                     token_expires_at=now + LINK_VALID_FOR)
    if claimed is None:
        return 0
    _queue_mail("follow_up", claimed, token)
    audit.write("follow_up.sent", patient=claimed.patient, detail={"weeks": claimed.weeks})
    db.session.commit()
    return 1


def _too_late(follow_up_id: int, now: datetime) -> None:
    """Due longer ago than its link would stay valid (the worker was stopped): asking now
    about "6 weeks after discharge" would mean something else. Cancelled, and the log says
    why."""
    claimed = _claim(follow_up_id, (FollowUp.status == "scheduled",), status="cancelled",
                     cancelled_at=now)
    if claimed is None:
        return
    audit.write("follow_up.cancelled", patient=claimed.patient,
                detail={"reason": "too_late", "weeks": claimed.weeks, "count": 1})
    db.session.commit()


def _remind_one(follow_up_id: int, now: datetime) -> int:
    claimed = _claim(follow_up_id, (FollowUp.status == "sent", FollowUp.reminded_at.is_(None)),
                     reminded_at=now)
    if claimed is None:
        return 0
    token = link_token(claimed)
    digest = hashlib.sha256(token.encode()).hexdigest()
    if claimed.token_hash != digest:  # SECRET_KEY changed since the first e-mail
        claimed.token_hash = digest
    _queue_mail("follow_up_reminder", claimed, token)
    audit.write("follow_up.reminded", patient=claimed.patient, detail={"weeks": claimed.weeks})
    db.session.commit()
    return 1


def _queue_mail(kind: str, follow_up: FollowUp, token: str) -> None:
    """In the patient's language; no health information (portal.mail), only the links."""
    user = follow_up.patient.user
    mail.queue(kind, user.email, user.locale, name=user.name, link=_link(token),
               decline_link=_decline_link(token))


# --- answering ----------------------------------------------------------------------------

@dataclass
class Answer:
    pain_average: int
    pgic: int
    # [{"activity": ..., "score": 0-10}] for the intake's activities; None when there are none.
    psfs: list[dict[str, Any]] | None = None


def answer(follow_up: FollowUp, given: Answer, actor: User | None, via: str) -> FollowUp:
    """Record the answers once (``via``: "link" or "signed_in"). FollowUpError "answered"
    when it was answered already (a second submission, two tabs), "closed" when it can no
    longer be answered."""
    if follow_up.status == "answered":
        raise FollowUpError("answered")
    if not is_open(follow_up):
        raise FollowUpError("closed")
    now = clock.now()
    psfs_mean = outcomes.mean(item["score"] for item in given.psfs) if given.psfs else None
    baseline, improved = at_discharge(follow_up.patient, follow_up.discharged_at)
    claimed = _claim(follow_up.id, (FollowUp.status == "sent",), status="answered",
                     answered_at=now, pain_average=given.pain_average, pgic=given.pgic,
                     psfs=given.psfs, psfs_mean=psfs_mean, baseline=baseline,
                     improved_at_discharge=improved, kept=kept(baseline, given.pain_average))
    if claimed is None:
        db.session.refresh(follow_up)
        raise FollowUpError("answered" if follow_up.status == "answered" else "closed")
    # The answers are health data: the log says only that it was answered, and how.
    audit.write("follow_up.answered", patient=claimed.patient, actor=actor,
                detail={"weeks": claimed.weeks, "through": via})
    claimed.patient.last_activity_at = now
    db.session.commit()
    return claimed


# --- declining ----------------------------------------------------------------------------

def decline(patient: Patient, actor: User | None, via: str) -> int:
    """No more follow-ups: every one not answered is declined, none is scheduled at a later
    discharge. Returns how many were declined (0 when already declined: nothing twice)."""
    now = clock.now()
    marked = cast(CursorResult[Any], db.session.execute(
        update(Patient).where(Patient.id == patient.id,
                              Patient.follow_ups_declined_at.is_(None))
        .values(follow_ups_declined_at=now)
        .execution_options(synchronize_session=False)))
    if marked.rowcount != 1:
        db.session.rollback()
        return 0
    result = cast(CursorResult[Any], db.session.execute(
        update(FollowUp).where(FollowUp.patient_id == patient.id,
                               FollowUp.status.in_(PENDING))
        .values(status="declined")
        .execution_options(synchronize_session=False)))
    count = result.rowcount or 0
    audit.write("follow_up.declined", patient=patient, actor=actor,
                detail={"through": via, "count": count})
    db.session.commit()
    db.session.refresh(patient)
    return count


def undo_decline(patient: Patient, actor: User) -> bool:
    """Follow-ups welcome again, from the next discharge (the declined ones stay declined)."""
    result = cast(CursorResult[Any], db.session.execute(
        update(Patient).where(Patient.id == patient.id,
                              Patient.follow_ups_declined_at.is_not(None))
        .values(follow_ups_declined_at=None)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    audit.write("follow_up.accepted_again", patient=patient, actor=actor)
    db.session.commit()
    db.session.refresh(patient)
    return True
