"""Demo intakes for ``flask seed-demo`` (SPEC 9): the demo patient half-way through, other
patients with intakes sent without flags, with red flags, and with precautions. Answers go
through the same checks as a patient's (answers.problems) and submission through the real
service, so the demo shows what the portal really stores."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import services
from portal.intake.answers import problems
from portal.models import IntakeResponse, Patient, User

SITES = [("front.shoulder.right", "back.upper_back.right", "back.neck.right"),
         ("back.low_back.left", "back.low_back.right", "back.buttock.left"),
         ("back.shoulder_blade.left", "back.neck.left", "front.head.left"),
         ("front.hip.right", "back.thigh.right", "back.calf.right"),
         ("front.elbow.right", "front.forearm.right", "back.upper_back.right")]
COMPLAINTS = ["Neck and shoulder pain that started with computer work.",
              "Low back pain going into my left buttock.",
              "Headaches and tight muscles between my shoulder blades.",
              "Hip pain going down the back of my leg.",
              "Tennis elbow that will not settle."]
ACTIVITIES = ["Lifting groceries", "Sleeping on my side", "Gardening", "Driving more than "
              "30 minutes", "Working at the computer", "Walking the dog", "Playing golf",
              "Carrying my grandchild", "Getting dressed"]
NO = dict.fromkeys((
    "rf_saddle_numbness", "rf_bladder_bowel", "rf_leg_weakness", "rf_injury",
    "rf_fragile_bones", "rf_cancer", "rf_weight_loss", "rf_night_pain", "rf_fever",
    "rf_abdominal_pulse", "rf_drug_injection", "immune_suppression", "pc_bleeding_disorder",
    "pc_anticoagulant", "pc_needle_fear", "pc_skin", "pc_metal_allergy", "pc_implant",
    "pc_lymphoedema", "pc_unhealed_fracture", "rf_spinal_surgery"), "no")
# Version 3's questions among them: spinal surgery in the past year, and a serious injury
# with when it happened (AHCPR red flags, CLINICAL.md).
RED_FLAGS = [{"rf_night_pain": "yes"},
             {"rf_cancer": "yes", "rf_cancer_detail": "Breast cancer, 2015"},
             {"rf_bladder_bowel": "yes"},
             {"rf_fever": "yes", "rf_weight_loss": "yes"},
             {"rf_spinal_surgery": "yes"},
             {"rf_injury": "yes", "rf_injury_when": "longer_ago"}]
PRECAUTIONS = [{"pc_anticoagulant": "yes", "pc_anticoagulant_name": "Apixaban",
                "pc_anticoagulant_dose": "5 mg twice a day"},
               {"pc_needle_fear": "yes"},
               {"pc_implant": "yes", "pc_implant_detail": "Left knee replacement, 2019"},
               {"pc_anticoagulant": "yes", "pc_anticoagulant_name": "Warfarin",
                "pc_anticoagulant_dose": "5 mg once a day", "pc_bleeding_disorder": "yes"}]


def answers(rng: random.Random, kind: str, upto_step: int = 6) -> dict:
    """Plausible answers; ``kind`` is clean, red_flag or precaution."""
    site = rng.randrange(len(SITES))
    now = rng.randint(3, 8)
    out = {
        "dob": f"{rng.randint(1945, 1995)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "sex": rng.choice(["female", "male"]), "phone": f"604-555-{rng.randint(0, 9999):04d}",
        "address": f"{rng.randint(10, 9999)} Main Street\nVancouver BC",
        "emergency_name": "Alex " + rng.choice(["Morgan", "Tremblay", "Singh", "Chen"]),
        "emergency_phone": f"604-555-{rng.randint(0, 9999):04d}",
        "emergency_relation": rng.choice(["Spouse", "Daughter", "Son", "Friend"]),
        "referral": rng.choice(["physician", "friend", "internet"]),
        "main_complaint": COMPLAINTS[site],
        "pain_map": {code: max(0, min(10, now + rng.randint(-2, 1))) for code in SITES[site]},
        "onset": rng.choice(["3_12_months", "1_5_years", "over_5_years"]),
        "pattern": rng.choice(["constant", "intermittent"]), "pain_days": rng.randint(4, 7),
        "nprs_now": now, "nprs_average": max(0, now - 1), "nprs_worst": min(10, now + 2),
        "peg_enjoyment": rng.randint(3, 8), "peg_activity": rng.randint(3, 9),
        "psfs": [{"activity": a, "score": rng.randint(1, 6)}
                 for a in rng.sample(ACTIVITIES, rng.randint(2, 4))],
        "previous_treatments": sorted(rng.sample(["physiotherapy", "massage", "medication"], 2),
                                      key=["physiotherapy", "massage", "medication"].index),
        "medications": rng.choice(["Ibuprofen 400 mg when needed", "None",
                                   "Acetaminophen 500 mg twice a day"]),
        **NO, "pc_pregnancy": "not_applicable",
    }
    if kind == "red_flag":
        out.update(rng.choice(RED_FLAGS))
    elif kind == "precaution":
        out.update(rng.choice(PRECAUTIONS))
    definition = services.current_definition()
    return {k: v for k, v in out.items()
            if k in definition.questions and definition.questions[k].step <= upto_step}


def _intake(patient: Patient, rng: random.Random, kind: str, *, step: int | None = None,
            reviewed_by: User | None = None) -> IntakeResponse:
    definition = services.current_definition()
    filled = answers(rng, kind, upto_step=(step - 1) if step else 5)
    assert problems(definition, filled) == [], problems(definition, filled)
    started = (patient.last_activity_at or clock.now()) + timedelta(hours=2)
    response = IntakeResponse(patient_id=patient.id, definition_key=definition.key,
                              definition_version=definition.version, answers=filled,
                              current_step=step or definition.step_count, revision=step or 6,
                              created_at=started, updated_at=started)
    db.session.add(response)
    db.session.flush()
    if step is None:
        consent = consents.current_consent()
        row = consents.sign(patient, consent, patient.user.name, patient.user.locale or "en",
                            consents.Client("127.0.0.1", "seed-demo"), response)
        row.signed_at = started
        response.answers = {**filled, "consent_signature": consents.answer(row)}
        db.session.commit()
        services.submit(patient, response.revision, notify=False)
        db.session.refresh(response)
        response.submitted_at = started + timedelta(minutes=25)
        if reviewed_by is not None:
            response.reviewed_at = response.submitted_at + timedelta(days=1)
            response.reviewed_by_id = reviewed_by.id
    db.session.commit()
    return response


def seed(rng: random.Random) -> int:
    """Intakes for the demo patients who have joined and have none yet (so running
    seed-demo again adds nothing). Returns how many were made."""
    made = 0
    # The named demo patients only (not the generated ones of portal.demo.bulk).
    patients = db.session.scalars(select(Patient).join(Patient.user)
                                  .where(User.password_hash.is_not(None),
                                         User.email.endswith("@example.com"))
                                  .order_by(Patient.id)).all()
    kinds = ["in_progress", "clean", "red_flag", "precaution"]
    for index, patient in enumerate(patients):
        if services.response_for(patient) is not None:
            continue
        if patient.user.email == "patient@example.com":
            _intake(patient, rng, "clean", step=3)  # half done: on step 3 of 7
        elif patient.status == "intake_in_progress":
            kind = kinds[index % len(kinds)]
            if kind == "in_progress":
                _intake(patient, rng, "clean", step=4)
            else:
                _intake(patient, rng, kind)
        else:  # cleared, in treatment, discharged: sent and read long ago
            _intake(patient, rng, ["clean", "precaution"][index % 2],
                    reviewed_by=patient.practitioner)
        made += 1
    return made
