"""The clinic's consent to IMS, in two parts (SPEC 2.3 step 6, 4.1): the patient reads and
e-signs the current version of the consent text, and before the first session the
practitioner records the consent discussion (risks, benefits and alternatives explained,
questions answered, the patient agrees) for that signature.

Why two parts: "informed consent is a conversation, not a form"; "a signed consent form
obtained as part of intake paperwork is not valid, informed consent" (College of
Physiotherapists of Alberta, "Good Practice: Consent in Practice",
https://www.cpta.ab.ca/news-and-updates/news/good-practice-consent-in-practice/; CLINICAL.md,
"Dry needling / IMS precautions and consent"). Consent can be refused or withdrawn at any
time (CPTA Consent Guide): a withdrawn signature keeps its row, with ``withdrawn_at``, and
signing again makes a new row, which needs its own discussion.

A signature counts only for the version it was given for, so publishing a new version of
the consent text asks every patient to sign again, and their practitioner to talk it through
again. ``covering(patient, at)`` is the treatment gate's question (was the current consent
signed, not withdrawn, and discussed by a session's time?).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import audit, clock, mail
from portal.extensions import db
from portal.intake.definitions import Consent, registry
from portal.links import absolute_url
from portal.models import ConsentDiscussion, ConsentSignature, IntakeResponse, Patient, User

DEFAULT_CONSENT = "ims_consent"
REASON_MAX = 1000  # a withdrawal's reason, in the patient's words
NOTE_MAX = 2000  # a consent discussion's note
# A discussion time a little ahead of the server's clock (a practitioner's watch) is
# accepted, as for sessions.
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass
class Client:
    """Where a signature or a save came from (the view fills this from the request)."""
    ip: str | None = None
    user_agent: str | None = None


def consent_key() -> str:
    """The consent the current intake asks patients to sign."""
    from portal.intake.services import current_definition
    return current_definition().consent_key or current_app.config.get("INTAKE_CONSENT",
                                                                      DEFAULT_CONSENT)


def current_consent() -> Consent:
    return registry().consent(consent_key())


def signature(patient: Patient, consent: Consent) -> ConsentSignature | None:
    """The patient's signature of ``consent`` that stands (not withdrawn), if any."""
    return db.session.scalar(select(ConsentSignature).where(
        ConsentSignature.patient_id == patient.id,
        ConsentSignature.consent_key == consent.key,
        ConsentSignature.consent_version == consent.version,
        ConsentSignature.withdrawn_at.is_(None)))


def latest_signature(patient: Patient) -> ConsentSignature | None:
    return db.session.scalar(select(ConsentSignature)
                             .where(ConsentSignature.patient_id == patient.id)
                             .order_by(ConsentSignature.signed_at.desc(),
                                       ConsentSignature.id.desc()).limit(1))


def signatures(patient: Patient) -> list[ConsentSignature]:
    """Every consent the patient signed, newest first (the staff view's consent record)."""
    return list(db.session.scalars(select(ConsentSignature)
                                   .where(ConsentSignature.patient_id == patient.id)
                                   .order_by(ConsentSignature.signed_at.desc(),
                                             ConsentSignature.id.desc())))


def has_current_consent(patient: Patient) -> bool:
    """True when the patient has signed the current version of the clinic's consent and not
    withdrawn it (the discussion is the other part: ``state``)."""
    return signature(patient, current_consent()) is not None


def sign(patient: Patient, consent: Consent, name: str, locale: str, client: Client,
         response: IntakeResponse | None = None) -> ConsentSignature:
    """Record a signature in the caller's transaction; signing the same version twice keeps
    the first signature (the one the patient gave first). After a withdrawal, signing again
    makes a new row (the withdrawn one is kept)."""
    existing = signature(patient, consent)
    if existing is not None:
        return existing
    row = ConsentSignature(patient_id=patient.id, response_id=response.id if response else None,
                           consent_key=consent.key, consent_version=consent.version,
                           text_sha256=consent.sha256(locale), locale=locale,
                           typed_name=name[:200], signed_at=clock.now(),
                           ip=(client.ip or None) and client.ip[:45],
                           user_agent=(client.user_agent or "")[:255] or None)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # the same patient signing in two tabs at once
        first = signature(patient, consent)
        if first is None:  # the insert failed for another reason
            raise
        return first
    audit.write("consent.signed", patient=patient, actor=patient.user,
                subject=f"{consent.key} v{consent.version}")
    return row


def answer(row: ConsentSignature) -> dict:
    """What the signature question stores in the intake answers."""
    return {"name": row.typed_name, "consent_key": row.consent_key,
            "consent_version": row.consent_version, "sha256": row.text_sha256,
            "locale": row.locale}


# --- withdrawal ---------------------------------------------------------------------------

def withdraw(patient: Patient, row: ConsentSignature, reason: str | None) -> bool:
    """The patient withdraws the consent they signed (CPTA Consent Guide: the right to
    withdraw at any time). Once: a second click changes nothing (False). The reason is the
    patient's own words: kept on the signature, never in the audit log (no health data
    there). Commits."""
    reason = (reason or "").strip()[:REASON_MAX] or None
    done = cast(CursorResult[Any], db.session.execute(
        update(ConsentSignature)
        .where(ConsentSignature.id == row.id, ConsentSignature.patient_id == patient.id,
               ConsentSignature.withdrawn_at.is_(None))
        .values(withdrawn_at=clock.now(), withdrawal_reason=reason)
        .execution_options(synchronize_session=False)))
    if done.rowcount != 1:
        db.session.rollback()
        return False
    audit.write("consent.withdrawn", patient=patient, actor=patient.user,
                subject=f"{row.consent_key} v{row.consent_version}")
    _notify_withdrawal(patient)
    db.session.commit()
    db.session.refresh(row)
    return True


def _notify_withdrawal(patient: Patient) -> None:
    """Tell the patient's practitioner (every practitioner when none is assigned), as an
    intake sent is told: at once, in the same transaction. No name and no reason: e-mails
    carry no health information (SPEC 6.1); the worklist shows who, until acknowledged."""
    from portal.intake.submission import staff_to_notify  # it imports this module
    link = absolute_url("clinic.worklist", _anchor="consent-withdrawn")
    for person in staff_to_notify(patient):
        mail.queue("consent_withdrawn", person.email, person.locale, name=person.name,
                   link=link)


# --- the consent discussion (SPEC 4.1) ----------------------------------------------------


class DiscussionError(Exception):
    """A discussion that cannot be recorded; ``code`` picks the message (the view's)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; the portal stores UTC everywhere.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def discussion(row: ConsentSignature | None) -> ConsentDiscussion | None:
    """The first discussion recorded for a signature (the earliest talk completes it)."""
    if row is None:
        return None
    return db.session.scalar(select(ConsentDiscussion)
                             .where(ConsentDiscussion.signature_id == row.id)
                             .order_by(ConsentDiscussion.discussed_at, ConsentDiscussion.id)
                             .options(joinedload(ConsentDiscussion.discussed_by))
                             .limit(1))


def record_discussion(patient: Patient, row: ConsentSignature, practitioner: User,
                      discussed_at: datetime, note: str | None = None) -> ConsentDiscussion:
    """Record that ``practitioner`` explained risks, benefits and alternatives, answered the
    patient's questions and heard them agree, at ``discussed_at``, for the signature ``row``
    (the patient's standing signature of the current version). Not in the future, not before
    the signature. Audited as ``consent.discussed``, without the note (health data stays
    out of the audit log). Commits. Raises DiscussionError."""
    if discussed_at.tzinfo is None:
        raise ValueError("discussed_at must be timezone-aware")
    if row.patient_id != patient.id or row.withdrawn_at is not None:
        raise DiscussionError("no_signature")
    if discussed_at > clock.now() + FUTURE_TOLERANCE:
        raise DiscussionError("future")
    if discussed_at < _aware(row.signed_at).replace(second=0, microsecond=0):
        raise DiscussionError("before_signature")
    found = ConsentDiscussion(patient_id=patient.id, signature_id=row.id,
                              discussed_at=max(discussed_at, _aware(row.signed_at)),
                              discussed_by_id=practitioner.id,
                              note=(note or "").strip()[:NOTE_MAX] or None,
                              created_at=clock.now())
    db.session.add(found)
    db.session.flush()
    audit.write("consent.discussed", patient=patient, actor=practitioner,
                subject=f"{row.consent_key} v{row.consent_version}")
    db.session.commit()
    return found


@dataclass
class Covering:
    """The gate's two consent checks at a moment. ``withdrawn``: not signed because the
    patient's newest signature by then was withdrawn by then (and none given since), which
    no reason to go ahead overrides (the treatment gate). ``resigned``: signed again after
    withdrawing an earlier signature by then; the new signature's discussion is then no
    formality either (the issue of SPEC 11.1: "blocks sessions until a new consent and
    discussion")."""
    signed: bool
    discussed: bool
    withdrawn: bool = False
    resigned: bool = False


def covering(patient: Patient, at: datetime | None = None) -> Covering:
    """At ``at`` (default now): had the patient signed the CURRENT version before then, and
    not withdrawn it before then; and had a practitioner recorded the consent discussion for
    such a signature at or before then? (SPEC 4.1; a signature or a discussion dated after a
    session does not cover it.) When not signed: was the newest signature given by then (of
    any version) withdrawn by then? The patient's last word is then a withdrawal (SPEC 11.1:
    sessions blocked until consent is given again)."""
    at = at or clock.now()
    consent = current_consent()
    signed_by_then = [row for row in db.session.scalars(select(ConsentSignature).where(
                          ConsentSignature.patient_id == patient.id))
                      if _aware(row.signed_at) <= at]
    rows = [row for row in signed_by_then
            if row.consent_key == consent.key and row.consent_version == consent.version
            and (row.withdrawn_at is None or _aware(row.withdrawn_at) > at)]
    if not rows:
        newest = max(signed_by_then, key=lambda row: (_aware(row.signed_at), row.id),
                     default=None)
        withdrawn = (newest is not None and newest.withdrawn_at is not None
                     and _aware(newest.withdrawn_at) <= at)
        return Covering(signed=False, discussed=False, withdrawn=withdrawn)
    discussed = db.session.scalar(select(ConsentDiscussion.id).where(
        ConsentDiscussion.signature_id.in_([row.id for row in rows]),
        ConsentDiscussion.discussed_at <= at).limit(1)) is not None
    # Signed again after a withdrawal: the signature just before the standing one had been
    # withdrawn (a withdrawal long settled, followed by a signature and its discussion, is
    # not: a later version's signature then needs its discussion as anyone's does).
    first = min(_aware(row.signed_at) for row in rows)
    before = max((row for row in signed_by_then if _aware(row.signed_at) < first),
                 key=lambda row: (_aware(row.signed_at), row.id), default=None)
    resigned = (before is not None and before.withdrawn_at is not None
                and _aware(before.withdrawn_at) <= first)
    return Covering(signed=True, discussed=discussed, resigned=resigned)


@dataclass
class State:
    """Where the patient's consent stands now, for the chart and the patient's pages.
    ``signature``: the standing signature of the current version (None when there is none);
    ``latest``: the newest signature of any version (withdrawn or not)."""
    signature: ConsentSignature | None
    discussion: ConsentDiscussion | None
    latest: ConsentSignature | None

    @property
    def kind(self) -> str:
        """"complete", "not_discussed", "withdrawn", "outdated" (an older version signed)
        or "unsigned"."""
        if self.signature is not None:
            return "complete" if self.discussion is not None else "not_discussed"
        if self.latest is None:
            return "unsigned"
        if self.latest.withdrawn_at is not None:
            return "withdrawn"
        return "outdated"


def state(patient: Patient) -> State:
    row = signature(patient, current_consent())
    return State(signature=row, discussion=discussion(row), latest=latest_signature(patient))


def discussions(patient: Patient) -> dict[int, ConsentDiscussion]:
    """signature id -> its first recorded discussion, for the staff's consent record."""
    found: dict[int, ConsentDiscussion] = {}
    for row in db.session.scalars(select(ConsentDiscussion)
                                  .where(ConsentDiscussion.patient_id == patient.id)
                                  .options(joinedload(ConsentDiscussion.discussed_by))
                                  .order_by(ConsentDiscussion.discussed_at.desc(),
                                            ConsentDiscussion.id.desc())):
        found[row.signature_id] = row  # the earliest wins (newest first, overwritten)
    return found
