"""The consent discussion, recorded from the chart's header (SPEC 4.1): date and time (today
on the clinic's clock by default; not in the future; not before the signature), the three
boxes ticked, an optional note; audited without the note; errors by their field with
nothing typed lost, with and without htmx; staff only, CSRF on; the header says where
consent stands, in English and French."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.models import AuditEvent, ConsentDiscussion, Patient, User
from portal.treatment import services as treatment
from tests.conftest import Auth, CSRFClient
from tests.factories import make_patient
from tests.markup import parse

# Long sign-ins (the clock moves), a practitioner and their signed-in client.
from tests.treatment.conftest import app_config, doctor, doctor_client  # noqa: F401
from tests.treatment.helpers import HX, make_treatable
from tests.treatment.test_pages import check_markup

NOTE = "Asked about bruising; on apixaban, discussed pressure after needling."


def chart_url(user) -> str:
    return f"/clinic/patients/{user.patient.public_id}/"


def post_url(user) -> str:
    return f"/clinic/patients/{user.patient.public_id}/consent-discussion"


@pytest.fixture
def signed(app):
    """Signed the consent two days ago; no discussion yet."""
    user = make_treatable(name="Sam Signed", discussed=False)
    row = consents.signature(db.session.get(Patient, user.patient.id), consents.current_consent())
    row.signed_at = clock.now() - timedelta(days=2)
    db.session.commit()
    return db.session.get(User, user.id)


def drawn_form(client, user) -> dict:
    """The form's values as drawn in the chart (the date and time filled in)."""
    doc = parse(client.get(chart_url(user)).get_data(as_text=True))
    return {name: doc.find_all("input", name=name)[0].attrs.get("value")
            for name in ("consent-day", "consent-time")}


def ticked(**overrides) -> dict:
    data = {"consent-explained": "y", "consent-questions": "y", "consent-agrees": "y",
            "consent-note": NOTE}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def discussions(user) -> list[ConsentDiscussion]:
    db.session.expire_all()
    return list(db.session.scalars(select(ConsentDiscussion)
                                   .where(ConsentDiscussion.patient_id == user.patient.id)))


def header_consent(client, user) -> str:
    doc = parse(client.get(chart_url(user)).get_data(as_text=True))
    return " ".join(doc.by_id("chart-consent").text.split())


def test_the_form_defaults_to_now_on_the_clinic_clock(doctor_client, signed):
    values = drawn_form(doctor_client, signed)
    local = treatment.to_clinic(clock.now())
    assert values["consent-day"] == local.date().isoformat()
    assert values["consent-time"] == local.strftime("%H:%M")
    html = doctor_client.get(chart_url(signed)).get_data(as_text=True)
    check_markup("chart with the consent discussion form", html)
    assert "discussion not recorded" in header_consent(doctor_client, signed)


def test_recording_the_discussion_audits_it_and_the_chart_shows_it(doctor_client, doctor,
                                                                   signed):
    response = doctor_client.post(post_url(signed), data={**drawn_form(doctor_client, signed),
                                                          **ticked()})
    assert response.status_code == 303
    assert response.location.endswith(chart_url(signed))
    found, = discussions(signed)
    assert found.discussed_by_id == doctor.id and found.note == NOTE
    assert found.signature_id == consents.signature(
        db.session.get(Patient, signed.patient.id), consents.current_consent()).id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "consent.discussed"))
    assert event is not None and event.patient_id == signed.patient.id
    assert event.actor_id == doctor.id
    # Health data stays out of the audit log: the note is nowhere in the event.
    assert "bruising" not in json.dumps({c.name: str(getattr(event, c.name))
                                         for c in AuditEvent.__table__.columns})
    text = header_consent(doctor_client, signed)
    assert "discussed on" in text and "by Dr. Jordan Lee" in text and "bruising" in text
    html = doctor_client.get(chart_url(signed)).get_data(as_text=True)
    assert 'id="consent-discussion"' not in html  # done: the form is gone
    assert treatment.gate(db.session.get(Patient, signed.patient.id)).open
    intake_tab = doctor_client.get(chart_url(signed) + "intake").get_data(as_text=True)
    assert "Consent discussion" in intake_tab and "Dr. Jordan Lee" in intake_tab


@pytest.mark.parametrize("case", ["future", "before_signature", "missing_box", "no_date"])
def test_the_form_refuses_with_the_error_by_its_field_and_keeps_what_was_typed(
        doctor_client, signed, case):
    local = treatment.to_clinic(clock.now())
    values = drawn_form(doctor_client, signed)
    field_id, message = "consent-day", None
    if case == "future":
        values["consent-day"] = (local.date() + timedelta(days=1)).isoformat()
        message = "cannot be in the future"
    elif case == "before_signature":
        values["consent-day"] = (local.date() - timedelta(days=3)).isoformat()
        message = "cannot be before the patient signed the consent"
    elif case == "no_date":
        values["consent-day"] = ""
        message = "Enter the date of the discussion."
    data = {**values, **ticked()}
    if case == "missing_box":
        data = {**values, **ticked(**{"consent-questions": None})}
        field_id, message = "consent-questions", "questions are answered"
    response = doctor_client.post(post_url(signed), data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    doc = parse(html)
    error, = doc.find_all("p", id=f"{field_id}-error")
    assert message in error.text
    field, = doc.find_all(id=field_id)
    assert field.attrs.get("aria-invalid") == "true"
    assert f"{field_id}-error" in field.attrs.get("aria-describedby", "")
    assert "open" in doc.find_all("details", id="consent-discussion")[0].attrs
    assert NOTE in html  # nothing typed is lost
    if case != "missing_box":
        assert "checked" in doc.find_all("input", id="consent-questions")[0].attrs
    assert discussions(signed) == []


def test_with_htmx_the_form_alone_comes_back_with_its_errors(doctor_client, signed):
    values = drawn_form(doctor_client, signed)
    response = doctor_client.post(post_url(signed), headers=HX,
                                  data={**values, **ticked(**{"consent-agrees": None})})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith(("{#", "<details"))
    assert 'id="consent-agrees-error"' in html and NOTE in html
    ok = doctor_client.post(post_url(signed), headers=HX, data={**values, **ticked()})
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].endswith(chart_url(signed))
    assert len(discussions(signed)) == 1


def test_hostile_requests_change_nothing(app, doctor_client, signed):
    values = {**drawn_form(doctor_client, signed), **ticked()}
    # Without the CSRF token.
    assert doctor_client.post(post_url(signed), data=values, csrf=False).status_code == 400
    # A patient, even with a valid form, for themselves or someone else.
    app.test_client_class = CSRFClient
    patient_client = app.test_client()
    assert Auth(patient_client).login(signed).status_code == 303
    assert patient_client.post(post_url(signed), data=values).status_code == 404
    other = make_patient(name="Olive Other")
    assert patient_client.post(post_url(other), data=values).status_code == 404
    # An unknown patient id.
    assert doctor_client.post("/clinic/patients/no-such-id/consent-discussion",
                              data=values).status_code == 404
    # A patient with no signature: nothing to discuss, nothing recorded.
    response = doctor_client.post(post_url(other), data=values)
    assert response.status_code == 303
    assert discussions(signed) == [] and discussions(other) == []
    # Extra fields naming another signature are ignored: the discussion is for this
    # patient's own standing signature.
    doctor_client.post(post_url(signed), data={**values, "consent-signature_id": "1",
                                               "signature_id": "1"})
    found, = discussions(signed)
    assert found.signature.patient_id == signed.patient.id


def test_the_header_says_where_consent_stands_in_french(app, doctor_client, doctor, signed):
    doctor.locale = "fr_CA"
    db.session.commit()
    html = doctor_client.get(chart_url(signed)).get_data(as_text=True)
    assert "Discussion sur le consentement non consignée" in html
    assert "Consigner la discussion sur le consentement" in html
    text = header_consent(doctor_client, signed)
    assert "Signé (version" in text and "discussion non consignée" in text
    doctor_client.post(post_url(signed), data={**drawn_form(doctor_client, signed), **ticked()})
    assert "discuté le" in header_consent(doctor_client, signed)
    consents.withdraw(db.session.get(Patient, signed.patient.id),
                      discussions(signed)[0].signature, None)
    assert header_consent(doctor_client, signed).startswith("Retiré le")
