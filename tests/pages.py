"""Every page of the portal, for the tests that look at all of them (valid HTML, HTML
CodeSniffer): a clinic with people in every state, and the list of full pages each person
sees, in the order they would meet them.

``make_clinic()`` fills the database (the demo clinic of ``flask seed-demo``, plus patients
made with the test helpers for the states the demo has no fixed address for) and returns who
is who; ``pages(clinic)`` lists, per person, the pages to open. A person is signed in once
(``sign_in_client``) and the language is changed under them (``use_language``), so one
sign-in serves both languages."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update

from portal import clock, crypto
from portal.extensions import db
from portal.models import AccountToken, OutboxMessage, Patient, User
from tests.conftest import Auth, CSRFClient
from tests.factories import PASSWORD, make_admin, make_patient, make_practitioner
from tests.intake.helpers import FORM, fill_all, page_state
from tests.treatment.helpers import history, make_treatable, rate, record

LANGUAGES = ("en", "fr_CA")
ACCEPT_LANGUAGE = {"en": "en-CA,en;q=0.9", "fr_CA": "fr-CA,fr;q=0.9"}


@dataclass(frozen=True)
class Page:
    """One full page: ``path`` opened with GET, or posted with ``data`` (a form sent back
    with its errors, or one whose redirect leads to the page). ``status`` is the answer
    expected."""
    name: str
    path: str
    status: int = 200
    data: dict | None = None
    csrf: bool = True


@dataclass
class Person:
    """Who opens the pages: a user signed in (``stage="signed-in"``), half-way (``"mfa"``:
    password given, code not yet; ``"enrol"``: staff setting up their code) or nobody."""
    role: str
    user: User | None = None
    totp_secret: str | None = None
    stage: str = "signed-in"


@dataclass
class Clinic:
    people: dict[str, Person] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # what the addresses need
    step1: dict = field(default_factory=dict)  # the revision a freshly opened step 1 carries


def _token(user: User, purpose: str) -> str:
    token = crypto.new_token()
    db.session.add(AccountToken(user=user, purpose=purpose, token_hash=crypto.token_hash(token),
                                created_at=clock.now(), expires_at=clock.now() + timedelta(days=1)))
    db.session.commit()
    return token


def _signed_in(app: Flask, user: User) -> CSRFClient:
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(user).status_code == 303
    return client


def make_clinic(app: Flask) -> Clinic:
    """The demo clinic and a patient in each state a page needs; commits."""
    from portal.demo import clinic as demo

    seeded = demo.seed(PASSWORD)
    secret = {email: s for email, _role, s in seeded.staff}
    admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
    doctor = db.session.scalar(select(User).where(User.email == "dr.lee@example.com"))
    clinic = Clinic()
    people = clinic.people
    people["visitor"] = Person("visitor")
    people["admin"] = Person("admin", admin, secret[admin.email])
    people["practitioner"] = Person("practitioner", doctor, secret[doctor.email])
    mfa_user = make_practitioner(name="Dr. Ren Ito")
    people["mfa"] = Person("mfa", mfa_user, mfa_user.totp_secret_plain, stage="mfa")
    people["enrol"] = Person("enrol", make_admin(name="Sam Setup", mfa=False), stage="enrol")

    # A patient who has just joined (intake at its start), one who has filled every step
    # (the review), and one in treatment: a course rated, a session to rate, a problem to
    # report, the safety check on the home page.
    people["starting"] = Person("starting", make_patient(name="Nora Lavoie"))
    reviewing = make_patient(name="Gilles Fortin")
    fill_all(_signed_in(app, reviewing))
    people["reviewing"] = Person("reviewing", reviewing)
    treated = make_treatable(name="Margaret Côté")
    course = history(treated, [7, 6, 6, 5, 4], practitioner=doctor)
    done = record(treated, doctor, hours_ago=50)
    rate(done, 4)
    open_one = record(treated, doctor, hours_ago=26)
    people["patient"] = Person("patient", db.session.get(User, treated.id))

    # One who withdrew their consent: the consent page asks them to sign again.
    withdrawn = make_treatable(name="Luc Gagnon")
    _withdraw_consent(withdrawn)
    people["withdrawn"] = Person("withdrawn", db.session.get(User, withdrawn.id))

    invited = make_patient(name="Hugo Morin", password=None)
    clinic.ids.update(
        treated=treated.patient.public_id,
        starting=people["starting"].user.patient.public_id,
        reviewing=reviewing.patient.public_id,
        invited=invited.patient.public_id,
        withdrawn=withdrawn.patient.public_id,
        flagged=_flagged_patient(),
        old_session=course[0].public_id, rated_session=done.public_id,
        open_session=open_one.public_id,
        invite_token=_token(invited, "invite"),
        reset_token=_token(people["starting"].user, "reset"),
        confirm_token=_token(make_patient(name="Ines Roy", confirmed=False), "confirm"),
    )
    clinic.step1 = page_state(_signed_in(app, people["starting"].user), 1)
    _undelivered_mail()
    _open_registration(app)
    clinic.ids["incident"] = _privacy_incident(admin, treated.patient)
    clinic.ids.update(_record_requests(admin, doctor, people["patient"].user))
    followed, follow_up_ids = _followed_patient(doctor)
    people["followed"] = Person("followed", followed)
    clinic.ids.update(follow_up_ids)
    clinic.ids.update(_retention_schedule(admin, doctor))
    clinic.ids["closed"] = _closed_account()
    return clinic


def _closed_account() -> str:
    """A patient who closed their account (SPEC 11.1): their chart says until when the
    record is kept."""
    from portal.rights import closure
    closed = make_treatable(name="Rose Leblanc")
    assert closure.close(db.session.get(Patient, closed.patient.id)) is not None
    return closed.patient.public_id


def _retention_schedule(admin: User, doctor: User) -> dict[str, str]:
    """Former patients past their retention period: one listed, one approved and waiting
    for a second admin, one disposed of (portal/demo/retention.py)."""
    from portal.demo import retention as retention_demo
    return {f"disposal_{state}": public_id
            for state, public_id in retention_demo.seed(admin, doctor).items()}


def _followed_patient(doctor: User) -> tuple[User, dict[str, str]]:
    """Follow-ups after discharge (SPEC 12.1): a patient discharged seven weeks ago whose
    6-week follow-up is answered (portal/demo/followups.py), and one whose 6-week
    follow-up was just e-mailed (by the worker's service): its link's token, and its id."""
    from portal.demo import followups as followups_demo
    from portal.followups import services as followups
    from portal.models import FollowUp

    answered = make_treatable(name="Paul Tremblay")
    history(answered, [7, 6, 4, 3], practitioner=doctor)
    done = followups_demo.seed(db.session.get(Patient, answered.patient.id), doctor)
    followed = make_treatable(name="Anne Bouchard")
    history(followed, [8, 6, 5, 4], practitioner=doctor)
    [six, _twelve] = followups_demo.seed(db.session.get(Patient, followed.patient.id), doctor,
                                        discharged_ago=timedelta(weeks=6, minutes=5))
    followups.send_due()
    sent = db.session.get(FollowUp, six.id)
    assert sent is not None and sent.status == "sent"
    return db.session.get(User, followed.id), {
        "follow_up_token": followups.link_token(sent), "follow_up": sent.public_id,
        "follow_up_answered_token": followups.link_token(done[0]),
        "follow_up_patient": answered.patient.public_id}


def _record_requests(admin: User, doctor: User, patient: User) -> dict[str, str]:
    """The demo's requests register: an access request answered, a correction answered and
    one open (portal/demo/requests.py)."""
    from portal.demo import requests as requests_demo
    made = requests_demo.seed(admin, doctor, patient)
    return {"access_request": made.access.public_id,
            "correction_answered": made.answered.public_id,
            "correction_open": made.open.public_id}


def _privacy_incident(admin: User, patient: Patient) -> str:
    """The demo's entry of the privacy incident register, about a patient's record."""
    from portal.demo import incidents as incidents_demo
    return incidents_demo.seed(admin, patient).public_id


def _open_registration(app: Flask) -> None:
    """Patients may register themselves (the register page exists), and the clinic has a
    phone number and an address to show."""
    from portal.models import ClinicSettings
    settings = db.session.get(ClinicSettings, 1)
    if settings is None:
        settings = ClinicSettings(id=1, name=app.config["CLINIC_NAME"])
        db.session.add(settings)
    settings.self_registration = True
    settings.phone = "604-555-0100"
    settings.address = "1200 Main Street, Vancouver BC V6A 0B1"
    db.session.commit()


def _withdraw_consent(user: User) -> None:
    from portal.intake import consent as consents
    from portal.models import ConsentSignature
    row = db.session.scalar(select(ConsentSignature)
                            .where(ConsentSignature.patient_id == user.patient.id))
    assert row is not None and consents.withdraw(user.patient, row, "I changed my mind.")


def _flagged_patient() -> str:
    """A demo patient whose intake raised a red flag, or any patient past intake."""
    from portal.models import IntakeResponse
    row = db.session.scalar(select(IntakeResponse).where(IntakeResponse.submitted_at.is_not(None))
                            .order_by(IntakeResponse.has_red_flags.desc(), IntakeResponse.id))
    assert row is not None
    return db.session.get(Patient, row.patient_id).public_id


def _undelivered_mail() -> None:
    """Two messages the mail server kept refusing, for the admin's list."""
    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id).limit(2)))
    if not messages:
        messages = [OutboxMessage(kind="invitation", to_addr="someone@example.org",
                                  subject="Invitation", body_text="-")]
        db.session.add_all(messages)
    for message in messages:
        message.status, message.attempts = "failed", 5
        message.last_error = "Connection refused"
    db.session.commit()


def pages(clinic: Clinic) -> dict[str, list[Page]]:
    """The full pages each person opens (role → pages)."""
    i = clinic.ids
    chart = f"/clinic/patients/{i['treated']}"
    return {
        "visitor": [
            Page("sign-in", "/auth/login"),
            Page("sign-in-refused", "/auth/login", 422,
                 {"email": "nobody@example.org", "password": "wrong password"}),
            Page("register", "/auth/register"),
            Page("register-errors", "/auth/register", 422, {"name": "", "email": "x"}),
            Page("register-check-email", "/auth/register", 200,
                 {"name": "Rosa Ouellet", "email": "rosa@example.org",
                  "password": PASSWORD, "confirm": PASSWORD}),
            Page("reset-request", "/auth/reset"),
            Page("reset-check-email", "/auth/reset", 200, {"email": "rosa@example.org"}),
            Page("reset-password", f"/auth/reset/{i['reset_token']}"),
            Page("accept-invitation", f"/auth/invite/{i['invite_token']}"),
            Page("confirm-email", f"/auth/confirm/{i['confirm_token']}"),
            Page("link-invalid", "/auth/reset/not-a-token", 404),
            Page("error-404", "/no-such-page", 404),
            Page("follow-up-form", f"/follow-up/{i['follow_up_token']}"),
            Page("follow-up-form-errors", f"/follow-up/{i['follow_up_token']}", 422,
                 {"pain_average": "11"}),
            Page("follow-up-decline", f"/follow-up/{i['follow_up_token']}/decline"),
            Page("follow-up-answered", f"/follow-up/{i['follow_up_answered_token']}"),
            Page("follow-up-link-invalid", "/follow-up/not-a-token", 404),
            Page("error-400-expired-form", "/auth/login", 400, {"email": "a@b.c"}, csrf=False),
        ],
        "mfa": [Page("mfa", "/auth/mfa")],
        "enrol": [Page("mfa-setup", "/auth/mfa/setup")],
        "starting": [
            Page("patient-home-new", "/me/"),
            *[Page(f"intake-step-{n}", f"/me/intake/{n}") for n in range(1, 7)],
            Page("intake-step-1-errors", "/me/intake/1", 422,
                 {**clinic.step1, **FORM[1], "dob": "1890-01-01", "phone": "", "action": "next"}),
            Page("documents-new", "/me/documents/"),
            Page("clearance", "/me/documents/clearance"),
            Page("account-patient", "/auth/account"),
        ],
        "reviewing": [
            Page("intake-step-2-filled", "/me/intake/2"),
            Page("intake-review", "/me/intake/7"),
        ],
        "patient": [
            Page("patient-home", "/me/"),
            Page("intake-summary", "/me/intake/summary"),
            Page("intake-amend", "/me/intake/amend/2"),
            Page("consent-withdraw", "/me/intake/consent/withdraw"),
            Page("consent-signed", "/me/intake/consent"),
            Page("documents", "/me/documents/"),
            Page("my-sessions", "/me/sessions/"),
            Page("rating-form", f"/me/sessions/{i['open_session']}/rating"),
            Page("rating-editable", f"/me/sessions/{i['rated_session']}/rating"),
            Page("rating-closed", f"/me/sessions/{i['old_session']}/rating"),
            Page("progress", "/me/progress"),
            Page("problem", "/me/problem"),
            Page("account-patient-treated", "/auth/account"),
            Page("correction-request", "/me/record/correction"),
            Page("correction-request-errors", "/me/record/correction", 422,
                 {"subject": "general", "detail": "", "password": ""}),
            # My record (SPEC 11.1): the hub, the password asked (and refused empty), then
            # the readable record it opens (the form's answer, a redirect, followed).
            Page("my-record", "/me/record"),
            Page("record-confirm", "/me/record/page"),
            Page("record-confirm-errors", "/me/record/page", 422, {"password": ""}),
            Page("record-page", "/me/record/page", 200, {"password": PASSWORD}),
            # Withdrawing consent and closing the account need the password (SPEC 11.1).
            Page("consent-withdraw-errors", "/me/intake/consent/withdraw", 422,
                 {"reason": "I changed my mind.", "password": ""}),
            Page("close-account", "/me/record/close"),
            Page("close-account-errors", "/me/record/close", 422,
                 {"password": "", "understand": ""}),
        ],
        "followed": [
            Page("patient-home-follow-up", "/me/"),
            Page("my-follow-ups", "/me/follow-ups"),
            Page("follow-up-signed-in", f"/me/follow-ups/{i['follow_up']}"),
        ],
        "withdrawn": [
            Page("patient-home-withdrawn", "/me/"),
            Page("consent-sign-again", "/me/intake/consent"),
        ],
        "practitioner": [
            Page("worklist", "/clinic/"),
            Page("patients", "/clinic/patients/"),
            Page("patient-search", "/clinic/patients/?q=Morgan"),
            Page("patient-search-none", "/clinic/patients/?q=zzzzzz"),
            Page("chart-summary", f"{chart}/"),
            Page("chart-intake", f"{chart}/intake"),
            Page("chart-documents", f"{chart}/documents"),
            Page("chart-sessions", f"{chart}/sessions"),
            Page("chart-ratings", f"{chart}/ratings"),
            Page("chart-activity", f"{chart}/activity"),
            Page("chart-printable", f"{chart}/summary"),
            Page("session-correct", f"/clinic/sessions/{i['open_session']}/correct"),
            Page("chart-starting", f"/clinic/patients/{i['starting']}/"),
            Page("chart-starting-sessions", f"/clinic/patients/{i['starting']}/sessions"),
            Page("chart-invited", f"/clinic/patients/{i['invited']}/"),
            Page("chart-flagged", f"/clinic/patients/{i['flagged']}/"),
            Page("chart-withdrawn", f"/clinic/patients/{i['withdrawn']}/"),
            Page("chart-closed", f"/clinic/patients/{i['closed']}/"),
            Page("chart-flagged-intake", f"/clinic/patients/{i['flagged']}/intake"),
            Page("correction-answer", f"{chart}/requests/{i['correction_open']}"),
            Page("correction-answered", f"{chart}/requests/{i['correction_answered']}"),
            Page("correction-decline-errors",
                 f"{chart}/requests/{i['correction_open']}/decline", 422, {"reason": ""}),
            Page("outcomes", "/clinic/outcomes"),
            # Follow-ups on the chart, the outcomes report to share (SPEC 12.1).
            Page("chart-follow-ups", f"/clinic/patients/{i['follow_up_patient']}/"),
            Page("outcomes-report", "/clinic/outcomes/report"),
            Page("outcomes-report-period", "/clinic/outcomes/report?from=2025-01-01&to=2030-12-31"),
            Page("outcomes-report-errors", "/clinic/outcomes/report?from=2026-12-01&to=2026-01-01",
                 422),
            Page("legal-hold", f"{chart}/legal-hold"),
            Page("legal-hold-errors", f"{chart}/legal-hold", 422, {"reason": ""}),
            Page("account-staff", "/auth/account"),
        ],
        "admin": [
            Page("admin-home", "/admin/"),
            Page("audit", "/admin/audit"),
            Page("audit-search", f"/admin/audit?patient={i['treated']}"),
            Page("incidents", "/admin/incidents"),
            Page("incident-new", "/admin/incidents/new"),
            Page("incident-new-errors", "/admin/incidents/new", 422,
                 {"discovered_day": "2999-01-01", "people_affected": "many"}),
            Page("incident", f"/admin/incidents/{i['incident']}"),
            Page("requests", "/admin/requests?state=all"),
            Page("request-new", "/admin/requests/new"),
            Page("request-new-errors", "/admin/requests/new", 422,
                 {"patient": "", "kind": "access", "received_on": "2999-01-01"}),
            Page("request", f"/admin/requests/{i['access_request']}"),
            Page("request-correction", f"/admin/requests/{i['correction_open']}"),
            Page("retention", "/admin/retention"),
            Page("retention-errors", "/admin/retention/approve", 422,
                 {"records": [i["disposal_listed"]], "method": "typed", "count": "7"}),
        ],
    }


def sign_in_client(app: Flask, person: Person) -> CSRFClient:
    """A test client for ``person``, signed in as far as their stage goes."""
    app.test_client_class = CSRFClient
    client = app.test_client()
    if person.user is None:
        return client
    response = client.post("/auth/login", data={"email": person.user.email,
                                                "password": PASSWORD})
    assert response.status_code == 303, (person.role, response.status_code)
    if person.stage == "signed-in" and person.totp_secret:
        from tests.factories import totp_code
        person.user.totp_secret_plain = person.totp_secret
        response = client.post("/auth/mfa", data={"code": totp_code(person.user)})
        assert response.status_code == 303, (person.role, response.status_code)
    return client


def use_language(language: str, *clients: CSRFClient) -> None:
    """Every account speaks ``language``; signed-out clients ask for it."""
    db.session.execute(update(User).values(locale=language))
    db.session.commit()
    for client in clients:
        client.extra_headers["Accept-Language"] = ACCEPT_LANGUAGE[language]
