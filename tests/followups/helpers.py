"""A discharged patient with follow-ups, through the real services (chart discharge, the
worker's send_due), and the e-mailed links read back from the test SMTP server."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal import mail
from portal.clinic.chart import services as chart
from portal.extensions import db
from portal.followups import services as followups
from portal.models import FollowUp, Patient, User
from tests.factories import make_practitioner
from tests.treatment.helpers import history, make_treatable


def treated(name: str = "Margaret Côté", pains=(7, 6, 5, 3), **kwargs) -> User:
    """A patient with a baseline of 6 (intake), the PSFS activities of the treatment
    helpers and a course of rated sessions (the last at 3: a responder)."""
    user = make_treatable(name=name, **kwargs)
    history(user, list(pains))
    return db.session.get(User, user.id)


def discharge(user: User, reason: str = "completed", actor: User | None = None) -> Patient:
    patient = db.session.get(Patient, user.patient.id)
    chart.discharge(patient, actor or make_practitioner(), reason)
    return patient


def follow_ups_of(user: User) -> list[FollowUp]:
    db.session.expire_all()
    return list(db.session.scalars(select(FollowUp)
                                   .where(FollowUp.patient_id == user.patient.id)
                                   .order_by(FollowUp.weeks)))


def send_and_deliver() -> followups.SendReport:
    """One run of the worker's follow-up task, then the outbox drained to the SMTP server."""
    report = followups.send_due()
    mail.deliver_due()
    return report


def links(message) -> list[str]:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.findall(r"https?://\S+", body)


def follow_up_mails(smtp_server, reminder: bool | None = None) -> list:
    out = []
    for message in smtp_server.parsed():
        body = message.get_body(preferencelist=("plain",)).get_content()
        if "/follow-up/" not in body:
            continue
        is_reminder = "reminder" in message["Subject"].lower() or \
            "rappel" in message["Subject"].lower()
        if reminder is None or reminder == is_reminder:
            out.append(message)
    return out


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]
