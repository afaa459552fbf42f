"""Withdrawing consent (SPEC 2.3 step 6; CPTA Consent Guide: the right to withdraw at any
time): a confirmation step, an optional reason kept on the signature and out of the audit
log, the home and consent pages say so, signing again makes a new signature, and staff see
the withdrawal on the chart."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.intake import consent as consents
from portal.models import AuditEvent, ConsentSignature, Patient
from tests.conftest import Auth, CSRFClient
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.intake.helpers import discuss_consent, make_intake
from tests.markup import parse

REASON = "I am pregnant and want to wait."
WITHDRAW = "/me/intake/consent/withdraw"


@pytest.fixture
def signed(app):
    user = make_patient(name="Wren Withdraw")
    make_intake(user)
    discuss_consent(user)
    return user


def rows(user) -> list[ConsentSignature]:
    db.session.expire_all()
    return consents.signatures(db.session.get(Patient, user.patient.id))


def actions(user, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.patient_id == user.patient.id, AuditEvent.action == action)))


def test_withdrawing_asks_first_then_keeps_the_reason_out_of_the_log(client, auth, signed):
    auth.login(signed)
    consent_page = parse(client.get("/me/intake/consent").get_data(as_text=True))
    assert consent_page.find_all("a", href=WITHDRAW)
    summary = client.get("/me/intake/summary").get_data(as_text=True)
    assert "/me/intake/consent" in summary and "Read it, or withdraw it" in summary
    # The confirmation page changes nothing by itself.
    page = client.get(WITHDRAW).get_data(as_text=True)
    assert "Yes, withdraw my consent" in page and "No, keep my consent" in page
    assert rows(signed)[0].withdrawn_at is None
    # Without the CSRF token: refused, nothing changes.
    assert client.post(WITHDRAW, data={"reason": REASON, "password": PASSWORD},
                       csrf=False).status_code == 400
    assert rows(signed)[0].withdrawn_at is None
    response = client.post(WITHDRAW, data={"reason": REASON, "password": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/me/")
    row, = rows(signed)
    assert row.withdrawn_at is not None and row.withdrawal_reason == REASON
    event, = actions(signed, "consent.withdrawn")
    assert REASON not in json.dumps({c.name: str(getattr(event, c.name))
                                     for c in AuditEvent.__table__.columns})
    assert not consents.has_current_consent(db.session.get(Patient, signed.patient.id))
    # Once: a second post changes nothing.
    assert client.post(WITHDRAW, data={"reason": "again", "password": PASSWORD}).status_code == 302
    assert len(actions(signed, "consent.withdrawn")) == 1
    home = client.get("/me/").get_data(as_text=True)
    assert "You withdrew your consent to IMS" in home and "Sign the updated consent" not in home
    assert "You withdrew your consent" in client.get("/me/intake/summary").get_data(as_text=True)


def test_signing_again_after_a_withdrawal_makes_a_new_signature(app, client, auth, signed):
    auth.login(signed)
    client.post(WITHDRAW, data={"reason": "", "password": PASSWORD})
    page = client.get("/me/intake/consent").get_data(as_text=True)
    assert "You withdrew your consent on" in page and 'name="name"' in page
    response = client.post("/me/intake/consent", data={"name": signed.name, "agree": "y"})
    assert response.status_code == 303
    new, old = rows(signed)
    assert new.withdrawn_at is None and old.withdrawn_at is not None and new.id != old.id
    assert old.withdrawal_reason is None
    assert consents.has_current_consent(db.session.get(Patient, signed.patient.id))
    # The staff chart: signed again, the discussion asked for again.
    app.test_client_class = CSRFClient
    staff = app.test_client()
    assert Auth(staff).login(make_practitioner()).status_code == 303
    chart = parse(staff.get(f"/clinic/patients/{signed.patient.public_id}/")
                  .get_data(as_text=True))
    assert "discussion not recorded" in " ".join(chart.by_id("chart-consent").text.split())
    intake_tab = staff.get(f"/clinic/patients/{signed.patient.public_id}/intake") \
        .get_data(as_text=True)
    assert "Withdrawn" in intake_tab


def test_staff_see_the_withdrawal_with_its_reason(app, client, auth, signed):
    auth.login(signed)
    client.post(WITHDRAW, data={"reason": REASON, "password": PASSWORD})
    app.test_client_class = CSRFClient
    staff = app.test_client()
    assert Auth(staff).login(make_practitioner()).status_code == 303
    chart = parse(staff.get(f"/clinic/patients/{signed.patient.public_id}/")
                  .get_data(as_text=True))
    text = " ".join(chart.by_id("chart-consent").text.split())
    assert text.startswith("Withdrawn on") and REASON in text
    badges = " ".join(chart.find_all(class_="chart-header__badges")[0].text.split())
    assert "Consent withdrawn" in badges


def test_the_withdrawal_page_in_french(client, auth, signed):
    signed.locale = "fr_CA"
    db.session.commit()
    auth.login(signed)
    page = client.get(WITHDRAW).get_data(as_text=True)
    assert "Retirer mon consentement" in page and "Oui, retirer mon consentement" in page
    consent_page = client.get("/me/intake/consent").get_data(as_text=True)
    assert "Retirer mon consentement" in consent_page
