"""Withdrawing consent needs the account's password, and the clinic is told (SPEC 11.1): a
missing or wrong password is said by its field and changes nothing (a shared phone is
common); the practitioner is e-mailed (no health detail) and the withdrawal waits on the
worklist ("Consent withdrawn", in "my patients" and in everyone's) and at the top of the
chart until acknowledged, once; the treatment gate refuses sessions until the patient signs
again and a new discussion is recorded, all through the pages."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import clock
from portal.clinic.worklist import services as worklist
from portal.extensions import db
from portal.intake import consent as consents
from portal.models import AuditEvent, ConsentSignature, OutboxMessage, Patient, User
from portal.treatment import services as treatment
from tests.factories import PASSWORD, make_patient, make_practitioner
from tests.markup import parse
from tests.treatment.conftest import app_config, doctor, doctor_client, signed_in  # noqa: F401
from tests.treatment.helpers import make_treatable, record

WITHDRAW = "/me/intake/consent/withdraw"
REASON = "I would rather wait until after my surgery."


@pytest.fixture
def treated(app, doctor):
    """In treatment with Dr. Lee: consent signed and discussed, a session recorded."""
    user = make_treatable(name="Wren Withdraw")
    patient = db.session.get(Patient, user.patient.id)
    patient.practitioner_id = doctor.id
    db.session.commit()
    record(user, doctor, hours_ago=5)
    return db.session.get(User, user.id)


def _standing(user) -> ConsentSignature | None:
    db.session.expire_all()
    return consents.signature(db.session.get(Patient, user.patient.id),
                              consents.current_consent())


def _field_error(html: str, field_id: str) -> str:
    doc = parse(html)
    error = doc.by_id(f"{field_id}-error")
    assert error is not None, f"no error by #{field_id}"
    return " ".join(error.text.split())


def _withdrawal_mail() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage)
                                   .where(OutboxMessage.kind == "consent_withdrawn")))


def test_no_withdrawal_without_the_right_password(app, treated):
    client = signed_in(app, treated)
    # No password: by its field, 422, what was typed kept, nothing changes.
    answer = client.post(WITHDRAW, data={"reason": REASON})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Enter your password." in _field_error(html, "password")
    assert REASON in html
    # A wrong one: the same, and counted as a failed password check.
    answer = client.post(WITHDRAW, data={"reason": REASON, "password": "not my password"})
    assert answer.status_code == 422
    assert "not correct" in _field_error(answer.get_data(as_text=True), "password")
    assert _standing(treated) is not None and _withdrawal_mail() == []
    failed = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "password.check_failed"))
    assert failed is not None and '"consent_withdrawal"' in failed.detail
    # Another patient signed in on the same phone, with their own password: their consent,
    # if any, not this one (they have none standing: sent to the consent page).
    other = make_patient(name="Otto Other")
    other_client = signed_in(app, other)
    assert other_client.post(WITHDRAW, data={"password": PASSWORD}).status_code == 302
    # Without the CSRF token, even with the right password: refused.
    assert client.post(WITHDRAW, data={"password": PASSWORD}, csrf=False).status_code == 400
    assert _standing(treated) is not None
    db.session.refresh(treated)
    # The right password: withdrawn, the failed count starts again.
    answer = client.post(WITHDRAW, data={"reason": REASON, "password": PASSWORD})
    assert answer.status_code == 303
    assert _standing(treated) is None
    assert db.session.get(User, treated.id).failed_logins == 0


def test_the_practitioner_is_told_and_acknowledges_once(app, treated, doctor, doctor_client):
    colleague = make_practitioner(name="Dr. Other")
    bystander = make_treatable(name="Bea Bystander")  # no practitioner: "mine" for everyone
    signed_in(app, treated).post(WITHDRAW, data={"reason": REASON, "password": PASSWORD})
    # One e-mail, to the patient's practitioner only, with no name and no reason.
    [message] = _withdrawal_mail()
    assert message.to_addr == doctor.email
    for part in (message.subject, message.body_text, message.body_html):
        assert treated.name not in part and REASON not in part and "Wren" not in part
    assert "/clinic/" in message.body_text

    def listed(user, who):
        section = worklist.build(worklist.Scope(who, user.id),
                                 ("consent-withdrawn",))["consent-withdrawn"]
        return section.count, [item.patient.id for item in section.items]
    assert listed(doctor, "mine") == (1, [treated.patient.id])
    assert listed(doctor, "all") == (1, [treated.patient.id])
    assert listed(colleague, "mine") == (0, [])  # not theirs
    assert listed(colleague, "all") == (1, [treated.patient.id])
    assert bystander.patient.id not in listed(doctor, "all")[1]
    page = parse(doctor_client.get("/clinic/?who=mine").get_data(as_text=True))
    section = " ".join(page.by_id("consent-withdrawn").text.split())
    assert "Wren Withdraw" in section and "Consent withdrawn" in section

    # The chart says so at the top, with the patient's reason and the button.
    chart_url = f"/clinic/patients/{treated.patient.public_id}/"
    chart = parse(doctor_client.get(chart_url).get_data(as_text=True))
    alert = chart.by_id("consent-withdrawal")
    assert alert is not None and REASON in alert.text
    ack = f"/clinic/patients/{treated.patient.public_id}/consent-withdrawal/acknowledge"
    # Without the CSRF token: refused, still waiting.
    assert doctor_client.post(ack, csrf=False).status_code == 400
    assert listed(doctor, "all")[0] == 1
    # The patient cannot acknowledge it (nor see the chart).
    assert signed_in(app, treated).post(ack).status_code == 404
    answer = doctor_client.post(ack)
    assert answer.status_code == 303 and answer.location.endswith(chart_url)
    assert listed(doctor, "all") == (0, [])
    row = db.session.scalar(select(ConsentSignature).where(
        ConsentSignature.patient_id == treated.patient.id))
    assert row.withdrawal_seen_at is not None and row.withdrawal_seen_by_id == doctor.id
    assert parse(doctor_client.get(chart_url).get_data(as_text=True)) \
        .by_id("consent-withdrawal") is None
    # Once: the colleague, second, is told who did it; nothing changes, one audit event.
    other = signed_in(app, colleague)
    other.post(ack)
    assert "Dr. Jordan Lee acknowledged it already" in other.get(chart_url).get_data(as_text=True)
    events = list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "consent.withdrawal_acknowledged")))
    assert len(events) == 1 and events[0].actor_id == doctor.id
    db.session.refresh(row)
    assert row.withdrawal_seen_by_id == doctor.id


def test_the_gate_blocks_until_signed_again_and_discussed(app, treated, doctor, doctor_client):
    patient_client = signed_in(app, treated)
    patient_client.post(WITHDRAW, data={"password": PASSWORD})
    clock.advance(minutes=5)
    with pytest.raises(treatment.GateRefused) as refused:
        record(treated, doctor, hours_ago=0)
    assert refused.value.missing == ["consent_withdrawn"]
    # The patient's home asks them to sign again, and the consent page lets them.
    home = patient_client.get("/me/").get_data(as_text=True)
    assert "You withdrew your consent to IMS" in home
    assert patient_client.post("/me/intake/consent",
                               data={"name": treated.name, "agree": "y"}).status_code == 303
    clock.advance(minutes=5)
    with pytest.raises(treatment.GateRefused) as refused:
        record(treated, doctor, hours_ago=0, override="The patient says they discussed it.")
    assert refused.value.missing == ["consent_rediscussion"] and refused.value.final
    # The practitioner records the new discussion from the chart; sessions are allowed.
    now = treatment.to_clinic(clock.now())
    answer = doctor_client.post(
        f"/clinic/patients/{treated.patient.public_id}/consent-discussion",
        data={"consent-day": now.date().isoformat(), "consent-time": now.strftime("%H:%M"),
              "consent-explained": "y", "consent-questions": "y", "consent-agrees": "y"})
    assert answer.status_code == 303
    clock.advance(minutes=5)
    assert treatment.gate(db.session.get(Patient, treated.patient.id)).open
    record(treated, doctor, hours_ago=0)


def test_without_a_practitioner_every_practitioner_is_told(app):
    first, second = make_practitioner(), make_practitioner()
    user = make_treatable(name="Nell Nobody")
    signed_in(app, user).post(WITHDRAW, data={"password": PASSWORD})
    assert {m.to_addr for m in _withdrawal_mail()} >= {first.email, second.email}


def test_the_demo_withdrawal_waits_on_dr_lees_worklist(app):
    from portal.demo import clinic as demo
    from portal.demo import withdrawals as demo_withdrawals

    demo.seed(PASSWORD)
    lee = db.session.scalar(select(User).where(User.email == "dr.lee@example.com"))
    patient = demo_withdrawals.seed(lee)
    assert patient is not None and patient.user.email != "patient@example.com"
    assert demo_withdrawals.seed(lee).id == patient.id  # again: the same, nothing new
    section = worklist.build(worklist.Scope("mine", lee.id),
                             ("consent-withdrawn",))["consent-withdrawn"]
    assert [item.patient.id for item in section.items] == [patient.id]
    assert section.items[0].row.withdrawal_reason == demo_withdrawals.REASON
