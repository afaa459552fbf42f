"""My record (SPEC 11.1): the readable page and the FHIR bundle, each behind the account's
password (10 minutes without asking again), each audited and entered in the requests
register as an access request answered at once; the bundle is the staff's export; the page
shows every part of the record in the patient's language and nothing of anyone else's."""
from __future__ import annotations

import json

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import amendments as intake_amendments
from portal.intake import bodymap
from portal.intake import consent as intake_consent
from portal.intake import services as intake
from portal.intake.definitions import text
from portal.intake.types import StepInput
from portal.models import AuditEvent, IntakeResponse, RecordRequest
from portal.rights.dates import due_at_for
from portal.treatment import forms as treatment_forms
from tests.factories import PASSWORD, make_document, make_follow_up, make_practitioner
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import REGION, history, make_treatable

PAGE, FHIR, HUB = "/me/record/page", "/me/record/fhir.json", "/me/record"


def _treated(locale: str = "en", name: str = "Margaret Côté", doc_name: str = "mri.pdf"):
    """An intake (baseline 6) corrected once, a signed consent, an accepted clearance and an
    imaging report, three rated sessions and an answered follow-up."""
    user = make_treatable(name=name, baseline=6, locale=locale)
    make_document(user, kind="imaging", name=doc_name)
    history(user, [5, 4, 3], practitioner=make_practitioner())
    response = db.session.scalar(select(IntakeResponse).where(
        IntakeResponse.patient_id == user.patient.id))
    result = intake_amendments.amend(user.patient, user, response, 2,
                                     StepInput(values={"nprs_worst": 9, "peg_activity": 2}),
                                     "I misread the question.")
    assert result.amendment is not None
    make_follow_up(user.patient, weeks=6, pain_average=2, pgic=3)
    db.session.expire_all()
    return user


@pytest.fixture
def treated(app):
    return _treated()


def _confirm(client, url: str = PAGE, password: str = PASSWORD):
    return client.post(url, data={"password": password})


def _actions(patient) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.patient_id == patient.id, AuditEvent.action.like("record.%"))
        .order_by(AuditEvent.id)))


def _register(patient) -> list[RecordRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(RecordRequest).where(
        RecordRequest.patient_id == patient.id).order_by(RecordRequest.id)))


def test_the_page_and_the_bundle_ask_for_the_password_first(app, treated):
    client = signed_in(app, treated)
    for url in (PAGE, FHIR):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/html"
        doc = parse(response.get_data(as_text=True))
        form = doc.find_all("form", action=url)
        assert form and doc.by_id("confirm-password") is not None
        assert "mri.pdf" not in response.get_data(as_text=True)
        assert "Content-Disposition" not in response.headers
    assert _actions(treated.patient) == [] and _register(treated.patient) == []


def test_a_wrong_password_is_refused_by_its_field_and_counted(app, treated):
    client = signed_in(app, treated)
    response = _confirm(client, PAGE, "not my password")
    assert response.status_code == 422
    error = parse(response.get_data(as_text=True)).by_id("confirm-password-error")
    assert error is not None and "Your current password is not correct." in error.text
    assert client.get(PAGE).get_data(as_text=True).count("mri.pdf") == 0
    failed = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "password.check_failed")).all()
    assert [json.loads(e.detail) for e in failed] == [{"for": "record_page"}]
    assert _actions(treated.patient) == [] and _register(treated.patient) == []
    # An empty one: the message by the field, nothing checked.
    empty = _confirm(client, FHIR, "")
    assert empty.status_code == 422
    assert "Enter your password." in parse(empty.get_data(as_text=True)).by_id(
        "confirm-password-error").text


def test_the_right_password_opens_both_for_ten_minutes(app, treated):
    client = signed_in(app, treated)
    confirmed = _confirm(client, PAGE)
    assert confirmed.status_code == 303 and confirmed.location.endswith(PAGE)
    page = client.get(PAGE)
    assert page.status_code == 200 and "mri.pdf" in page.get_data(as_text=True)
    bundle = client.get(FHIR)
    assert bundle.status_code == 200 and bundle.mimetype == "application/fhir+json"
    assert bundle.headers["Content-Disposition"].startswith("attachment; filename=")
    assert bundle.headers["Cache-Control"] == "no-store"
    assert json.loads(bundle.get_data(as_text=True))["resourceType"] == "Bundle"
    clock.advance(minutes=9)
    assert "mri.pdf" in client.get(PAGE).get_data(as_text=True)
    clock.advance(minutes=2)
    again = client.get(PAGE)
    assert again.status_code == 200 and "mri.pdf" not in again.get_data(as_text=True)
    assert parse(again.get_data(as_text=True)).by_id("confirm-password") is not None
    assert client.get(FHIR).mimetype == "text/html"
    # Signed out and in again: asked again.
    _confirm(client, FHIR)
    assert client.get(FHIR).mimetype == "application/fhir+json"
    client.post("/auth/logout")
    client = signed_in(app, treated)
    assert client.get(FHIR).mimetype == "text/html"


def test_each_opening_and_download_is_audited_and_registered(app, treated):
    client = signed_in(app, treated)
    received = clock.now()
    _confirm(client, FHIR)
    client.get(FHIR)
    client.get(PAGE)
    client.get(PAGE)
    assert _actions(treated.patient) == ["record.fhir_downloaded", "record.page_opened",
                                         "record.page_opened"]
    # The second look the same day is audited, and stays one request of the register.
    rows = _register(treated.patient)
    assert [r.subject for r in rows] == ["fhir_bundle", "record_page"]
    for row in rows:
        assert (row.kind, row.channel, row.outcome) == ("access", "portal", "provided")
        assert row.answered_at == row.received_at and row.received_at >= received
        assert row.due_at == due_at_for(row.received_at)
        assert row.created_by_id == treated.id
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action.like("record.%")).order_by(AuditEvent.id)).all()
    assert [json.loads(e.detail)["request"] for e in events] == [
        rows[0].public_id, rows[1].public_id, rows[1].public_id]
    assert {e.actor_id for e in events} == {treated.id}
    # The next clinic day, another request.
    clock.advance(days=1)
    client = signed_in(app, treated)
    _confirm(client, PAGE)
    client.get(PAGE)
    assert [r.subject for r in _register(treated.patient)] == [
        "fhir_bundle", "record_page", "record_page"]


def _comparable(bundle: dict) -> dict:
    """The bundle without what each export makes anew (its own id and time)."""
    return {k: v for k, v in bundle.items() if k not in ("id", "meta", "timestamp")}


def test_the_bundle_is_the_staff_export_of_the_same_patient(app, treated):
    doctor = make_practitioner()
    staff = signed_in(app, doctor)
    exported = json.loads(staff.get(f"/clinic/patients/{treated.patient.public_id}/fhir.json")
                          .get_data(as_text=True))
    client = signed_in(app, treated)
    _confirm(client, FHIR)
    mine = json.loads(client.get(FHIR).get_data(as_text=True))
    assert _comparable(mine) == _comparable(exported)
    assert len(mine["entry"]) > 10


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_the_page_shows_each_part_in_the_patients_language(app, locale):
    user = _treated(locale=locale)
    client = signed_in(app, user)
    _confirm(client)
    html = client.get(PAGE).get_data(as_text=True)
    doc = parse(html)
    assert doc.find_all("html")[0].attrs["lang"] == locale.replace("_", "-")
    response = intake.submitted_response(user.patient)
    definition = intake.definition_for(response)
    section = doc.by_id("record-intake").text
    # Question and answer in the patient's language; the correction with its date.
    assert text(definition.questions["nprs_worst"].label, locale) in section
    assert text(definition.questions["sex"].label, locale) in section
    with force_locale(locale):
        corrected = "Corrected on" if locale == "en" else "Corrigée le"
        assert corrected in section and "I misread the question." in section
        consent = doc.by_id("record-consent").text
        signature = intake_consent.latest_signature(user.patient)
        assert f" {signature.consent_version}" in consent
        assert ("signed on" if locale == "en" else "signée le") in consent
        documents = doc.by_id("record-documents").text
        assert "mri.pdf" in documents and "clearance.pdf" in documents
        assert ("Imaging report" if locale == "en" else "Rapport d'imagerie") in documents
        sessions = doc.by_id("record-sessions").text
        assert bodymap.label(REGION, locale) in sessions
        assert str(dict(treatment_forms.pgic_labels())[1]) in sessions
        progress = doc.by_id("record-progress").text
        assert "6 / 10" in progress and "3 / 10" in progress and "-3" in progress
        follow_ups = doc.by_id("record-follow-ups").text
        assert "2 / 10" in follow_ups
        assert str(dict(treatment_forms.pgic_labels())[3]) in follow_ups


def test_another_patients_record_never_appears(app, treated):
    other = _treated(name="Zacharie Tremblay", doc_name="other-scan.pdf")
    client = signed_in(app, treated)
    _confirm(client)
    page = client.get(PAGE).get_data(as_text=True)
    bundle = client.get(FHIR).get_data(as_text=True)
    for shown in (page, bundle):
        assert "Margaret Côté" in shown or "Margaret C\\u00f4t\\u00e9" in shown
        for theirs in ("Zacharie Tremblay", "other-scan.pdf", other.email,
                       other.patient.public_id):
            assert theirs not in shown
    # Their pages open their own record only: there is no patient id in these URLs.
    assert client.get(f"{PAGE}?patient={other.patient.public_id}").get_data(
        as_text=True).count("Zacharie") == 0


def test_staff_never_see_these_pages(app, treated):
    staff = signed_in(app, make_practitioner())
    for url in (HUB, PAGE, FHIR):
        assert staff.get(url).status_code == 404
    for url in (PAGE, FHIR):
        assert staff.post(url, data={"password": PASSWORD}).status_code == 404


def test_signed_out_visitors_go_to_sign_in(client):
    for url in (HUB, PAGE, FHIR):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/auth/login" in response.location


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_the_hub_offers_each_right(app, locale):
    user = make_treatable(name="Anne Roy", locale=locale)
    client = signed_in(app, user)
    doc = parse(client.get(HUB).get_data(as_text=True))
    links = {a.attrs.get("href") for a in doc.find_all("a")}
    assert {PAGE, FHIR, "/me/record/correction", "/me/intake/consent/withdraw"} <= links
    # In the menu and on the home page.
    home = parse(client.get("/me/").get_data(as_text=True))
    assert HUB in {a.attrs.get("href") for a in home.find_all("a")}
    # Consent withdrawn: nothing to withdraw.
    client.get("/me/intake/consent/withdraw")
    client.post("/me/intake/consent/withdraw", data={"password": PASSWORD})
    after = {a.attrs.get("href") for a in parse(client.get(HUB).get_data(as_text=True))
             .find_all("a")}
    assert "/me/intake/consent/withdraw" not in after and PAGE in after
    # ...and the way to sign it again, as on the home page.
    assert "/me/intake/consent" in after


def test_the_password_kept_in_the_session_is_this_users_only(app, treated):
    client = signed_in(app, treated)
    _confirm(client)
    with client.session_transaction() as session:
        kept = session["rights_confirmed"]
        session["rights_confirmed"] = {**kept, "uid": "someone-else"}
    assert parse(client.get(PAGE).get_data(as_text=True)).by_id("confirm-password") \
        is not None
