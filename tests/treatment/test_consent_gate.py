"""The gate's two consent checks (SPEC 4.1): at the session's time, the patient's signature
of the CURRENT consent version given before then and not withdrawn before then ("consent"),
and the practitioner's consent discussion for that signature recorded at or before then
("consent_discussion"). Each failure has its own message, on the record form and in the
override; the override still works."""
from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake.definitions import FOLDER, load_folder
from portal.models import ConsentSignature, Patient, TreatmentSession
from portal.treatment import services
from tests.factories import make_practitioner
from tests.intake.helpers import discuss_consent
from tests.markup import parse
from tests.treatment.helpers import REGION, make_treatable, record
from tests.treatment.test_sessions import record_form, sessions_url


def _patient(user) -> Patient:
    db.session.expire_all()
    return db.session.get(Patient, user.patient.id)


def _signature(user) -> ConsentSignature:
    return consents.signature(_patient(user), consents.current_consent())


def _minute(hours_ago: float):
    return (clock.now() - timedelta(hours=hours_ago)).replace(second=0, microsecond=0)


def test_a_session_before_the_discussion_is_refused_and_at_its_time_accepted(app, doctor):
    user = make_treatable(discussed=False)
    assert services.gate(_patient(user)).missing == ["consent_discussion"]
    discussed = _minute(3)
    discuss_consent(user, at=discussed, by=doctor)
    patient = _patient(user)
    assert services.gate(patient, at=discussed - timedelta(minutes=1)).missing == \
        ["consent_discussion"]
    assert services.gate(patient, at=discussed).open
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=(clock.now() - discussed).total_seconds() / 3600 + 1 / 60)
    assert refused.value.missing == ["consent_discussion"]
    # At exactly the discussion's time: recorded, with no override.
    session = services.record_session(patient, doctor, services.SessionInput(
        treated_at=discussed, regions=[REGION]))
    assert session.treated_at.replace(tzinfo=UTC) == discussed
    assert session.override_reason is None


def test_a_discussion_recorded_after_the_session_does_not_cover_it(app, doctor):
    user = make_treatable(discussed=False)
    # The session is at 1 hour ago; the discussion (recorded now) took place 30 minutes ago.
    discuss_consent(user, at=_minute(0.5), by=doctor)
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=1)
    assert refused.value.missing == ["consent_discussion"]
    # The override still works (a reason of 15 characters or more), and says which check.
    session = record(user, doctor, hours_ago=1, override="Discussed on the phone first.")
    assert session.override_gates == ["consent_discussion"]


def test_withdrawal_refuses_and_signing_again_with_a_new_discussion_accepts(app, doctor):
    user = make_treatable()
    record(user, doctor, hours_ago=5)
    clock.advance(minutes=1)
    assert consents.withdraw(_patient(user), _signature(user), "I want to think about it.")
    withdrawn_at = clock.now()
    clock.advance(hours=1)
    patient = _patient(user)
    # A session after the withdrawal: refused as withdrawn; one before it is covered.
    assert services.gate(patient).missing == ["consent_withdrawn"]
    assert services.gate(patient, at=withdrawn_at - timedelta(minutes=5)).open
    with pytest.raises(services.GateRefused) as refused:
        record(user, doctor, hours_ago=0.5)
    assert refused.value.missing == ["consent_withdrawn"]
    # Signing again makes a new row (the withdrawn one is kept) that needs its own talk.
    clock.advance(minutes=1)
    new = consents.sign(patient, consents.current_consent(), user.name, "en",
                        consents.Client("127.0.0.1", "test"))
    db.session.commit()
    rows = consents.signatures(_patient(user))
    assert len(rows) == 2 and rows[0].id == new.id and rows[1].withdrawn_at is not None
    # ...and which no reason passes: a new consent and a new discussion (SPEC 11.1).
    assert services.gate(_patient(user)).missing == ["consent_rediscussion"]
    clock.advance(minutes=1)
    discuss_consent(user, at=clock.now().replace(second=0, microsecond=0), by=doctor)
    clock.advance(minutes=5)
    assert services.gate(_patient(user)).open
    record(user, doctor, hours_ago=0)


def _publish_next_version(app, tmp_path) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    for path in FOLDER.glob("*.toml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    now = load_folder(FOLDER).consent("ims_consent").version
    text = (FOLDER / f"ims_consent_v{now}.toml").read_text(encoding="utf-8").replace(
        f"\nversion = {now}\n", f"\nversion = {now + 1}\n", 1)
    (folder / f"ims_consent_v{now + 1}.toml").write_text(text, encoding="utf-8")
    app.extensions["intake_definitions"] = load_folder(folder)


def test_a_new_consent_version_asks_for_both_again(app, doctor, tmp_path):
    user = make_treatable()
    assert services.gate(_patient(user)).open
    _publish_next_version(app, tmp_path)
    assert services.gate(_patient(user)).missing == ["consent"]
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    # The old version's discussion does not carry over to the new signature.
    assert services.gate(_patient(user)).missing == ["consent_discussion"]
    discuss_consent(user, by=doctor)
    assert services.gate(_patient(user)).open


def test_a_withdrawal_settled_long_ago_leaves_a_new_version_as_anyone_s(app, doctor,
                                                                        tmp_path):
    """Withdrawn, signed again and discussed: a later version's signature is no signature
    "again after a withdrawal", and its missing discussion takes a reason as anyone's."""
    user = make_treatable()
    clock.advance(minutes=1)
    assert consents.withdraw(_patient(user), _signature(user), "Thinking it over.")
    clock.advance(hours=1)
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    assert services.gate(_patient(user)).missing == ["consent_rediscussion"]
    clock.advance(minutes=1)
    discuss_consent(user, at=clock.now().replace(second=0, microsecond=0), by=doctor)
    clock.advance(days=30)
    _publish_next_version(app, tmp_path)
    consents.sign(_patient(user), consents.current_consent(), user.name, "en",
                  consents.Client("127.0.0.1", "test"))
    db.session.commit()
    clock.advance(minutes=5)
    assert services.gate(_patient(user)).missing == ["consent_discussion"]
    session = record(user, doctor, hours_ago=0, override="Discussed by phone this morning.")
    assert session.override_gates == ["consent_discussion"]


def test_a_correction_across_the_discussion_runs_the_gate_again(app, doctor_client, doctor):
    user = make_treatable(discussed=False)
    discussed = _minute(48)
    discuss_consent(user, at=discussed, by=doctor)
    session = record(user, doctor, hours_ago=24)
    local = services.to_clinic(discussed)
    url = f"/clinic/sessions/{session.public_id}/correct"

    def correct(moment, notes, override=""):
        return doctor_client.post(url, data={
            "day": moment.date().isoformat(), "time": moment.strftime("%H:%M"),
            "regions": [REGION], "nprs_before": "", "notes": notes,
            "reason": "The time was typed wrong.", "override_reason": override})

    # Moved to a minute before the discussion: refused by the date field, with its message.
    response = correct(local - timedelta(minutes=1), "Moved before the talk.")
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="day-error")
    assert "no consent discussion recorded by the session's time" in error.text
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).corrections == []
    # Moved to the discussion's own minute: accepted.
    assert correct(local, "Moved to the talk's time.").status_code == 303
    # Before it again, with a reason: kept, as an override of that check.
    assert correct(local - timedelta(minutes=1), "Before the talk.",
                   "Talked it through at the door first.").status_code == 303
    db.session.expire_all()
    assert db.session.get(TreatmentSession, session.id).override_gates == ["consent_discussion"]


def test_the_record_form_says_which_part_is_missing(app, doctor_client):
    unsigned = make_treatable(consented=False)
    signed_only = make_treatable(discussed=False)
    def notice(user) -> str:
        page = parse(doctor_client.get(sessions_url(user)).get_data(as_text=True))
        found, = page.find_all("div", class_="notice notice--warn")
        return found.text

    text = notice(unsigned)
    assert "no consent to the current version signed (and not withdrawn)" in text
    assert "no consent discussion recorded" not in text
    text = notice(signed_only)
    assert "no consent discussion recorded by the session's time" in text
    assert "no consent to the current version" not in text
    html = doctor_client.get(sessions_url(signed_only)).get_data(as_text=True)
    assert f'href="/clinic/patients/{signed_only.patient.public_id}/#consent-discussion"' in html
    # Refused on posting, with that message by the override's field.
    response = doctor_client.post(sessions_url(signed_only),
                                  data=record_form(doctor_client, signed_only))
    assert response.status_code == 422
    error, = parse(response.get_data(as_text=True)).find_all("p", id="override_reason-error")
    assert "no consent discussion recorded by the session's time" in error.text


def test_the_discussion_of_another_signature_does_not_count(app, doctor):
    """A discussion belongs to the signature it completes: another patient's does nothing."""
    one = make_treatable(discussed=False)
    other = make_treatable()
    assert services.gate(_patient(other)).open
    assert services.gate(_patient(one)).missing == ["consent_discussion"]
    assert db.session.scalar(select(ConsentSignature.id).where(
        ConsentSignature.patient_id == one.patient.id)) != _signature(other).id
    make_practitioner()
