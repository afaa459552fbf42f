"""A patient closes their account (SPEC 11.1): sign-in ends, e-mails and follow-ups stop,
and the clinical record is kept until its retention period ends (portal/rights/retention.py),
then disposed of with the others (the retention schedule).

Closing needs the account's password (a shared phone is common) and is done once: the
patient's ``account_closed_at`` is set by a conditional UPDATE, the user can no longer sign
in (``User.active`` off, as a deactivated account: a wrong password answers as for any
address, so whether an address has an account still does not show; the right one is told
that the account is closed and to contact the clinic), every session of the user ends now,
the follow-ups waiting are cancelled, the mail waiting is taken back and none is queued
afterwards (portal.mail refuses closed accounts' addresses, but for the one notice that the
account is closed, sent to whoever registers or asks for a new password with the address),
the links sent by e-mail (password reset, e-mail confirmation) stop working. The record
stays on the clinic's lists, marked closed."""
from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, update

from portal import audit, clock, mail
from portal.extensions import db
from portal.followups import services as followups
from portal.models import AccountToken, Patient
from portal.rights.retention import retention_ends_on
from portal.security import revoke_all_sessions


def close(patient: Patient) -> date | None:
    """Close the patient's account now; returns until when the record is kept, or None when
    it was closed already (nothing changes). The password is checked by the caller.
    Commits."""
    user = patient.user
    now = clock.now()
    done = cast(CursorResult[Any], db.session.execute(
        update(Patient).where(Patient.id == patient.id, Patient.account_closed_at.is_(None))
        .values(account_closed_at=now)
        .execution_options(synchronize_session=False))).rowcount
    if done != 1:
        db.session.rollback()
        return None
    user.active = False
    sessions = revoke_all_sessions(user)
    db.session.execute(update(AccountToken)
                       .where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    followups.cancel_pending(patient, user, "account_closed")
    dropped = mail.drop_pending(user.email)
    db.session.refresh(patient)
    kept_until = retention_ends_on(patient)
    audit.write("account.closed", patient=patient, actor=user, subject=user.email,
                detail={"kept_until": kept_until.isoformat(), "sessions": sessions,
                        "mail_dropped": dropped})
    db.session.commit()
    return kept_until
