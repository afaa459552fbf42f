"""The daily staff digest (SPEC 6.2): ``flask send-digest`` queues one e-mail a day for each
active practitioner and admin, in their language, with counts only (admins' also count the
e-mail waiting undelivered, SPEC 6.3); ``send-mail`` delivers it. Running it again the same
day (on the clinic's calendar) sends nothing more."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from portal import clock, tasks
from portal.auth import services as auth_services
from portal.clinic import digest
from portal.clinic_settings import current_settings
from portal.models import ConsentSignature, IntakeResponse, OutboxMessage
from portal.rights import correcting
from tests.factories import make_admin, make_document, make_patient, make_practitioner
from tests.intake.helpers import make_intake
from tests.test_mail import _closed_port
from tests.treatment.helpers import rate, record


def _at(moment: datetime) -> None:
    clock.reset()
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def _by_recipient(smtp_server) -> dict[str, list]:
    found: dict[str, list] = {}
    for message in smtp_server.parsed():
        found.setdefault(message["To"], []).append(message)
    return found


@pytest.fixture
def clinic(db, app):
    """Something in every queue: one of each thing the digest counts."""
    doctor = make_practitioner(name="Dr. Digest", email="dr.digest@example.org")
    flagged = make_patient(name="Flora Flagged", email="flora@example.org")
    make_intake(flagged)
    response = db.session.scalar(select(IntakeResponse))
    response.has_red_flags = True
    db.session.commit()
    make_intake(make_patient(name="Ian Intake"))
    make_document(make_patient(name="Clara Clearance"))
    late = make_patient(name="Otto Overdue")
    record(late, doctor, override="Digest test override")
    clock.advance(hours=25)  # its rating is now past the reminder time
    alerted = make_patient(name="Ava Alert")
    rate(record(alerted, doctor, hours_ago=26, override="Digest test override"), 5, breathing=True)
    with app.test_request_context():
        auth_services.invite(doctor, "ivan.invited@example.org", "Ivan Invited", "patient")
    # A consent signed and withdrawn, not yet acknowledged (SPEC 11.1).
    walt = make_patient(name="Walt Withdrawn")
    db.session.add(ConsentSignature(patient_id=walt.patient.id, consent_key="ims_consent",
                                    consent_version=1, text_sha256="0" * 64, locale="en",
                                    typed_name="Walt Withdrawn", signed_at=clock.now(),
                                    withdrawn_at=clock.now()))
    db.session.commit()
    # A correction request not yet answered (SPEC 11.1), and one answered.
    corrie = make_patient(name="Corrie Correction")
    correcting.request_correction(corrie.patient, corrie, None, "My name is misspelled.")
    answered = correcting.request_correction(corrie.patient, corrie, None, "Wrong doctor.")
    with app.test_request_context():  # the patient's e-mail links to the portal
        correcting.decline(answered, doctor, "It is right.")
    return {"doctor": doctor,
            "names": ["Flora", "Flagged", "Ian Intake", "Clara", "Otto", "Ava Alert", "Ivan",
                      "Walt", "Corrie", "misspelled",
                      "flora@example.org", "ivan.invited@example.org"]}


def test_counts_reflect_each_queue(clinic):
    assert digest.counts() == {"intake_red_flags": 1, "safety_alerts": 1,
                               "consent_withdrawn": 1, "new_intakes": 1,
                               "clearances": 1, "correction_requests": 1,
                               "overdue_ratings": 1, "invitations": 1}


def test_counts_of_an_empty_clinic_are_zero(db):
    assert set(digest.counts().values()) == {0}


def test_digest_goes_once_a_day_to_active_staff_in_their_language(
        app, mail_app, smtp_server, runner, db, clinic):
    english = make_admin(name="Ada Admin", email="ada@example.org", locale="en")
    french = make_practitioner(name="Camille Tremblay", email="camille@example.org",
                               locale="fr_CA")
    make_practitioner(email="gone@example.org", active=False)
    make_practitioner(email="invited.staff@example.org", password=None, mfa=False)
    make_patient(email="a.patient@example.org")
    staff = {clinic["doctor"].email, english.email, french.email}
    # Deliver what the set-up queued (staff alerts, the invitation): from here on the
    # server receives digests only.
    runner.invoke(args=["send-mail"])
    smtp_server.messages.clear()

    result = runner.invoke(args=["send-digest"])
    assert result.exit_code == 0, result.output
    assert "digest queued 3, already sent today 0" in result.output
    assert runner.invoke(args=["send-mail"]).exit_code == 0
    sent = _by_recipient(smtp_server)
    assert set(sent) == staff and all(len(v) == 1 for v in sent.values())

    # Counts only: the numbers, no one's name or address, nothing about health.
    mine = sent[english.email][0]
    text = mine.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = mine.get_body(preferencelist=("html",)).get_content()
    lines = re.findall(r"^\* (.+): (\d+)$", text, flags=re.M)
    # An admin's digest also counts undelivered e-mail (none here).
    assert [int(n) for _label, n in lines] == [1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert ("Correction requests from patients, not yet answered", "1") in lines
    assert lines[0][0] == "Intakes with red flags, not yet reviewed"
    assert lines[-1][0] == "Undelivered e-mails, to send again from the Administration page"
    assert mine["Subject"] == "Your daily summary from the IMS Clinic patient portal"
    for leak in clinic["names"]:
        assert leak not in text and leak not in html and leak not in mine["Subject"]
    assert "Hello Ada Admin," in text and "/clinic/" in text

    # In the recipient's language: the French message is marked and worded in French.
    theirs = sent[french.email][0]
    french_text = theirs.get_body(preferencelist=("plain",)).get_content()
    # A practitioner's has the worklist's counts only.
    assert len(re.findall(r"^\* (.+): (\d+)$", french_text.replace("\r\n", "\n"),
                          flags=re.M)) == 8
    assert "Demandes de correction des patients, en attente de réponse" in french_text
    assert 'lang="fr-CA"' in theirs.get_body(preferencelist=("html",)).get_content()
    assert "Ce message a été envoyé automatiquement" in french_text
    # The French subject once the catalogue has it, the English one until then.
    with app.test_request_context(), force_locale("fr_CA"):
        subject = gettext("Your daily summary from the %(clinic)s patient portal",
                          clinic="IMS Clinic")
    assert theirs["Subject"] == subject
    assert 'lang="en"' in html

    # Again the same day: nothing new, however often cron runs it.
    before = len(smtp_server.messages)
    result = runner.invoke(args=["send-digest"])
    assert "digest queued 0, already sent today 3" in result.output
    runner.invoke(args=["send-mail"])
    assert len(smtp_server.messages) == before

    # The next day: one more each.
    clock.advance(days=1)
    assert "digest queued 3" in runner.invoke(args=["send-digest"]).output
    runner.invoke(args=["send-mail"])
    assert all(len(v) == 2 for v in _by_recipient(smtp_server).values())


def test_a_day_is_a_day_on_the_clinics_calendar(db):
    settings = current_settings()
    settings.timezone = "America/Toronto"  # UTC-5 in November
    db.session.commit()
    make_practitioner()
    # 23:30 in Toronto on the 23rd, then 23:50: the same clinic day, though both are on
    # the 24th in UTC.
    _at(datetime(2026, 11, 24, 4, 30, tzinfo=UTC))
    assert digest.send_digest().queued == 1
    _at(datetime(2026, 11, 24, 4, 50, tzinfo=UTC))
    assert digest.send_digest().queued == 0
    # 00:10 on the 24th in Toronto: a new day.
    _at(datetime(2026, 11, 24, 5, 10, tzinfo=UTC))
    assert digest.send_digest().queued == 1
    assert len(db.session.scalars(select(OutboxMessage)
                                  .where(OutboxMessage.kind == "staff_digest")).all()) == 2


def test_an_empty_day_says_so(db):
    make_admin()
    digest.send_digest()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "staff_digest"))
    assert "Nothing is waiting in the portal today." in message.body_text


def test_admins_hear_of_undelivered_mail_and_practitioners_do_not(
        app, mail_app, smtp_server, runner, db):
    """Two e-mails given up while the mail server refused; once it is back, the admins'
    digests say how many wait (a count, nothing more), the practitioner's does not."""
    mail_app.config.update(MAIL_PORT=_closed_port(), MAIL_MAX_ATTEMPTS=2)
    with app.test_request_context():
        doctor = make_practitioner(name="Dr. Plain", email="plain@example.org")
        auth_services.invite(doctor, "ivan.invited@example.org", "Ivan Invited", "patient")
        auth_services.invite(doctor, "nina.invited@example.org", "Nina Invited", "patient")
    db.session.commit()
    for _round in range(4):  # a round stops at the first refused attempt
        runner.invoke(args=["send-mail"])
        clock.advance(minutes=30)
    assert db.session.scalars(select(OutboxMessage.status)).all() == ["failed", "failed"]
    tasks.huey.flush()

    admin = make_admin(name="Ada Admin", email="ada@example.org", locale="en")
    french_admin = make_admin(name="Alix Admin", email="alix@example.org", locale="fr_CA")
    mail_app.config["MAIL_PORT"] = smtp_server.port
    assert "digest queued 3" in runner.invoke(args=["send-digest"]).output
    runner.invoke(args=["send-mail"])
    sent = _by_recipient(smtp_server)
    label = "Undelivered e-mails, to send again from the Administration page"

    mine = sent[admin.email][0]
    text = mine.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert f"* {label}: 2" in text
    html = mine.get_body(preferencelist=("html",)).get_content()
    assert f"<li>{label}: <strong>2</strong></li>" in html
    for leak in ("ivan.invited", "nina.invited", "Ivan", "Nina", "Connection"):
        assert leak not in text and leak not in html

    with app.test_request_context(), force_locale("fr_CA"):
        french_label = gettext(label)
    assert french_label != label, "the French catalogue lacks the undelivered line"
    french = sent[french_admin.email][0].get_body(preferencelist=("plain",)).get_content()
    assert f"* {french_label}: 2" in french

    theirs = sent[doctor.email][0]
    for part in ("plain", "html"):
        body = theirs.get_body(preferencelist=(part,)).get_content()
        assert "Undelivered" not in body and "Administration" not in body
    # Undelivered mail is not work on the worklist: the practitioner has nothing waiting
    # but the two invitations.
    assert "* Patient invitations not yet accepted: 2" in \
        theirs.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
