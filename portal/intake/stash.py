"""Keeping what was typed (SPEC 2.4): a step posted after the sign-in or the form expired is
kept, encrypted, for its patient, and given back in the form after sign-in."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import InvalidToken
from sqlalchemy import delete, select

from portal import clock, crypto
from portal.extensions import db
from portal.models import IntakeStash, Patient, User

STASH_TTL = timedelta(days=7)


def patient_by_user_public_id(public_id: str | None) -> Patient | None:
    if not public_id:
        return None
    user = db.session.scalar(select(User).where(User.public_id == public_id,
                                                User.role == "patient",
                                                User.active.is_(True)))
    return user.patient if user is not None else None


def stash(patient: Patient, step_no: int, fields: dict[str, list[str]], revision: int | None,
          editor: str | None) -> bool:
    """Keep posted fields that could not be saved, encrypted, until the patient is back."""
    if not any(v.strip() for values in fields.values() for v in values):
        return False
    payload = crypto.encrypt(json.dumps(fields).encode())
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                 IntakeStash.step == step_no))
    db.session.add(IntakeStash(patient_id=patient.id, step=step_no, revision=revision or 0,
                               editor=editor, payload=payload, created_at=clock.now()))
    db.session.commit()
    return True


@dataclass
class Stashed:
    fields: dict[str, list[str]]
    revision: int
    editor: str | None


def stashed(patient: Patient, step_no: int) -> Stashed | None:
    row = db.session.scalar(select(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                      IntakeStash.step == step_no))
    if row is None:
        return None
    try:
        if clock.now() - row.created_at > STASH_TTL:
            raise InvalidToken
        fields = json.loads(crypto.decrypt(row.payload))
    except (InvalidToken, ValueError):
        db.session.delete(row)
        db.session.commit()
        return None
    return Stashed(fields, row.revision, row.editor)


def stashed_step(patient: Patient) -> int | None:
    """The step with typed answers waiting to be restored, if any."""
    return db.session.scalar(select(IntakeStash.step)
                             .where(IntakeStash.patient_id == patient.id,
                                    IntakeStash.created_at > clock.now() - STASH_TTL)
                             .order_by(IntakeStash.created_at.desc()).limit(1))


def discard_stash(patient: Patient, step_no: int) -> None:
    db.session.execute(delete(IntakeStash).where(IntakeStash.patient_id == patient.id,
                                                 IntakeStash.step == step_no))
    db.session.commit()
