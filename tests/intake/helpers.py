"""Answers that fill the IMS intake (the current version), and the steps tests repeat."""
from __future__ import annotations

from datetime import UTC
from typing import Any

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import services
from portal.intake.definitions import registry
from portal.models import IntakeResponse, Patient, User
from tests.markup import parse

HX = {"HX-Request": "true"}

SAFETY_NO = dict.fromkeys((
    "rf_saddle_numbness", "rf_bladder_bowel", "rf_leg_weakness", "rf_injury", "rf_fragile_bones",
    "rf_cancer", "rf_weight_loss", "rf_night_pain", "rf_fever", "rf_abdominal_pulse",
    "rf_drug_injection", "immune_suppression", "pc_bleeding_disorder", "pc_anticoagulant",
    "pc_needle_fear", "pc_skin", "pc_metal_allergy", "pc_implant", "pc_lymphoedema",
    "pc_unhealed_fracture", "rf_spinal_surgery"), "no")
SAFETY_NO["pc_pregnancy"] = "no"

# What a patient types, step by step, as the browser posts it.
FORM: dict[int, dict[str, Any]] = {
    1: {"dob": "1960-05-17", "sex": "female", "phone": "604-555-0123",
        "address": "12 Oak Street\nVancouver BC V5K 0A1", "emergency_name": "Sam Morgan",
        "emergency_phone": "604-555-0199", "emergency_relation": "Husband",
        "physician_name": "Dr. Ada Wong", "physician_clinic": "Main Street Clinic",
        "referral": "physician", "referral_other": ""},
    2: {"main_complaint": "Pain in my right shoulder and neck.",
        "pain_map-front.shoulder.right": "7", "pain_map-back.neck.right": "5",
        "onset": "1_5_years", "onset_how": "Slowly, after a lot of computer work.",
        "pattern": "constant", "pain_days": "7", "worse": "Sitting at a desk.", "better": "Heat.",
        "nprs_now": "6", "nprs_average": "5", "nprs_worst": "8", "peg_enjoyment": "6",
        "peg_activity": "7"},
    3: {"psfs-0-activity": "Lifting groceries", "psfs-0-score": "3",
        "psfs-1-activity": "Sleeping on my right side", "psfs-1-score": "2",
        "psfs-2-activity": "Gardening", "psfs-2-score": "5"},
    4: {"previous_treatments": ["physiotherapy", "massage"],
        "treatments_result": "Physiotherapy helped a little.",
        "medications": "Ibuprofen 400 mg when needed", "surgeries": "",
        "conditions": ["arthritis"], "conditions_other": ""},
    5: dict(SAFETY_NO),
    6: {"consent_signature-name": "Pat Morgan", "consent_signature-agree": "y"},
}


def hidden(page_html: str, name: str) -> str | None:
    found = parse(page_html).find_all("input", name=name)
    return found[-1].attrs.get("value") if found else None


def page_state(client, step: int) -> dict[str, str]:
    """The revision and editor token a freshly opened step carries."""
    html = client.get(f"/me/intake/{step}").get_data(as_text=True)
    return {"revision": hidden(html, "revision"), "editor": hidden(html, "editor")}


def post_step(client, step: int, data: dict | None = None, action: str = "next",
              state: dict | None = None, **kwargs):
    """Open the step (as a browser would) and post it with a button."""
    fields = dict(state or page_state(client, step))
    fields.update(FORM[step] if data is None else data)
    fields["action"] = action
    return client.post(f"/me/intake/{step}", data=fields, **kwargs)


def fill_all(client) -> None:
    for step in range(1, 7):
        response = post_step(client, step)
        assert response.status_code == 303, (step, response.status_code,
                                              response.get_data(as_text=True)[:3000])


def submit(client, **kwargs):
    html = client.get("/me/intake/7").get_data(as_text=True)
    return client.post("/me/intake/submit", data={"revision": hidden(html, "revision")},
                       **kwargs)


def response_of(user: User) -> IntakeResponse | None:
    db.session.expire_all()
    return services.response_for(db.session.get(Patient, user.patient.id))


# --- straight into the database (for the staff side and the access matrix) ---------------

def answers_v1(**overrides) -> dict[str, Any]:
    """Valid stored answers for every step of version 1 but the signature."""
    answers = {
        "dob": "1960-05-17", "sex": "female", "phone": "604-555-0123",
        "address": "12 Oak Street", "emergency_name": "Sam Morgan",
        "emergency_phone": "604-555-0199", "main_complaint": "Shoulder and neck pain.",
        "pain_map": {"front.shoulder.right": 7, "back.neck.right": 5}, "onset": "1_5_years",
        "pattern": "constant", "pain_days": 7, "nprs_now": 6, "nprs_average": 5, "nprs_worst": 8,
        "peg_enjoyment": 6, "peg_activity": 7,
        "psfs": [{"activity": "Lifting groceries", "score": 3},
                 {"activity": "Gardening", "score": 5}],
    }
    answers.update(SAFETY_NO)
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def make_intake(user: User, *, submit: bool = True, **overrides) -> IntakeResponse:
    """An intake for ``user`` with valid answers, signed, and (by default) submitted
    through the real service."""
    patient = user.patient
    definition = services.current_definition()
    answers = answers_v1(**overrides)
    response = IntakeResponse(patient_id=patient.id, definition_key=definition.key,
                              definition_version=definition.version, answers={},
                              current_step=7, created_at=clock.now(), updated_at=clock.now())
    db.session.add(response)
    db.session.flush()
    consent = registry().consent(definition.consent_key)
    row = consents.sign(patient, consent, user.name, "en", consents.Client("127.0.0.1", "test"),
                        response)
    answers["consent_signature"] = consents.answer(row)
    response.answers = answers
    db.session.commit()
    if submit:
        from flask import current_app
        with current_app.test_request_context():  # the staff e-mail needs url_for
            result = services.submit(patient, response.revision)
        assert result.submitted_now, result
    return response


def expired_token(app, token: str) -> str:
    """``token`` (a page's CSRF token) as it reads once its time ran out: the same session's
    token, signed WTF_CSRF_TIME_LIMIT and a minute ago. What a tab left open overnight sends."""
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    age = app.config["WTF_CSRF_TIME_LIMIT"] + 60

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    raw = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").loads(token)
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token", signer=Earlier).dumps(raw)


def discuss_consent(user: User, *, at=None, by: User | None = None,
                    note: str | None = None):
    """The practitioner's consent discussion (SPEC 4.1) for ``user``'s standing signature of
    the current consent, recorded through the real service, at ``at`` (default: the
    signature's time, so it covers whatever the signature covers)."""
    from tests.factories import make_practitioner

    patient = db.session.get(Patient, user.patient.id)
    row = consents.signature(patient, consents.current_consent())
    assert row is not None, "sign the consent first"
    signed = row.signed_at if row.signed_at.tzinfo else row.signed_at.replace(tzinfo=UTC)
    return consents.record_discussion(patient, row, by or make_practitioner(), at or signed,
                                      note)
