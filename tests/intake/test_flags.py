"""Red flags, IMS precautions and notes (SPEC 2.3 step 5, 2.7; CLINICAL.md), one by one."""
from __future__ import annotations

from datetime import date

import pytest

from portal.intake import flags
from portal.intake.definitions import FOLDER, load_folder
from tests.intake.helpers import answers_v1

DEFINITION = load_folder(FOLDER).questionnaire("ims_intake")
# The day the intake is sent: the helpers' patient (born 1960-05-17) is 66, over 50.
SENT = date(2026, 12, 1)

# Every red flag and precaution SPEC 2.3 names, by the code the definition gives it.
SPEC_RED_FLAGS = {"major_trauma_recent", "major_trauma_earlier", "minor_trauma_fragile_bones",
                  "cancer_history", "unexplained_weight_loss", "night_or_rest_pain",
                  "fever_or_infection",
                  "iv_drug_use", "immune_suppression_infection_risk",
                  "cauda_equina_saddle_numbness", "cauda_equina_bladder_bowel",
                  "progressive_leg_weakness", "spinal_surgery_past_year"}
SPEC_PRECAUTIONS = {"bleeding_disorder", "anticoagulant", "pregnancy",
                    "needle_phobia_or_fainting", "skin_problem_at_site", "metal_allergy",
                    "implant", "lymphoedema", "immune_suppression"}
EMERGENCY = {"cauda_equina_saddle_numbness", "cauda_equina_bladder_bowel",
             "progressive_leg_weakness"}


def test_the_definition_has_every_flag_the_spec_names():
    codes = {f.code: f.kind for f in DEFINITION.flags}
    assert {c for c, k in codes.items() if k == "red_flag"} >= SPEC_RED_FLAGS
    assert {c for c, k in codes.items() if k == "precaution"} >= SPEC_PRECAUTIONS


def test_no_flag_when_every_answer_is_no():
    assert flags.compute(DEFINITION, answers_v1(dob="1990-01-01"), SENT) == []


ANSWERED = {"rf_injury_when": {"rf_injury": "yes"}}  # a follow-up shows after its yes


@pytest.mark.parametrize("flag", [f for f in DEFINITION.flags if f.kind != "note"],
                         ids=lambda f: f.code)
def test_each_flag_is_raised_by_its_answer(flag):
    question = DEFINITION.questions[flag.when.question]
    answers = answers_v1(dob="1990-01-01", **ANSWERED.get(question.id, {}),
                         **{question.id: flag.when.values()[0]})
    raised = flags.compute(DEFINITION, answers, SENT)
    codes = {f["code"] for f in raised}
    assert flag.code in codes
    # Nothing else, except other flags of the same answer (cancer: red flag and precaution).
    siblings = {f.code for f in DEFINITION.flags if f.when.question == question.id}
    assert codes <= siblings
    stored = next(f for f in raised if f["code"] == flag.code)
    assert stored["kind"] == flag.kind
    if flag.kind == "red_flag":
        assert stored["advice"] in ("emergency", "urgent", "soon", "practitioner")
        assert (stored["advice"] == "emergency") is (flag.code in EMERGENCY)
        # The patient is shown the advice of this answer.
        assert stored["advice"] in flags.advice_levels(DEFINITION, answers)
    else:
        assert stored["advice"] is None


@pytest.mark.parametrize("answer,raised", [("yes", True), ("not_sure", True), ("no", False),
                                           ("not_applicable", False)])
def test_pregnancy_or_maybe_is_a_precaution(answer, raised):
    codes = {f["code"] for f in flags.compute(DEFINITION, answers_v1(pc_pregnancy=answer),
                                              SENT)}
    assert ("pregnancy" in codes) is raised


def test_cauda_equina_gives_emergency_advice_first():
    answers = answers_v1(rf_cancer="yes", rf_bladder_bowel="yes", rf_fever="yes")
    assert flags.advice_levels(DEFINITION, answers) == ["emergency", "urgent", "soon"]
    kinds = [f["kind"] for f in flags.compute(DEFINITION, answers, SENT)]
    # Red flags first, then precautions, then the note (the patient is over 50).
    assert kinds == ["red_flag"] * 3 + ["precaution"] * 2 + ["note"]


def test_advice_for_each_answer_that_needs_it():
    advice = flags.question_advice(DEFINITION)
    assert advice["rf_saddle_numbness"] == {"yes": "emergency"}
    assert "pc_anticoagulant" not in advice  # precautions alert staff, not the patient
    assert set(advice) == {f.when.question for f in DEFINITION.flags if f.kind == "red_flag"}
    assert "dob" not in advice  # the age note tells the patient nothing


def test_the_anticoagulant_flag_carries_drug_and_dose():
    flag = DEFINITION.flag("anticoagulant")
    assert flag.kind == "precaution"
    assert flag.details == ("pc_anticoagulant_name", "pc_anticoagulant_dose")


# --- version 3: the red-flag questions version 2 did not ask (AHCPR table) -----------------

def test_spinal_surgery_in_the_past_year_is_a_red_flag_with_advice():
    """Infection: spinal surgery in the past year (AHCPR table via CLINICAL.md)."""
    answers = answers_v1(dob="1990-01-01", rf_spinal_surgery="yes")
    assert flags.compute(DEFINITION, answers, SENT) == [
        {"code": "spinal_surgery_past_year", "kind": "red_flag", "advice": "soon"}]
    assert flags.advice_levels(DEFINITION, answers) == ["soon"]
    assert flags.question_advice(DEFINITION)["rf_spinal_surgery"] == {"yes": "soon"}


@pytest.mark.parametrize("when,code,advice", [
    ("past_6_weeks", "major_trauma_recent", "urgent"),
    ("longer_ago", "major_trauma_earlier", "practitioner")])
def test_the_advice_after_a_serious_injury_depends_on_when_it_happened(when, code, advice):
    answers = answers_v1(dob="1990-01-01", rf_injury="yes", rf_injury_when=when)
    assert flags.compute(DEFINITION, answers, SENT) == [
        {"code": code, "kind": "red_flag", "advice": advice}]
    assert flags.advice_levels(DEFINITION, answers) == [advice]
    assert flags.question_advice(DEFINITION)["rf_injury_when"][when] == advice
    assert DEFINITION.advice[advice].title["en"] and DEFINITION.advice[advice].title["fr_CA"]


def test_the_injury_follow_up_is_asked_only_after_a_yes():
    question = DEFINITION.questions["rf_injury_when"]
    assert question.required and question.show_if.question == "rf_injury"
    from portal.intake.answers import missing
    assert question in missing(DEFINITION, answers_v1(rf_injury="yes"))
    assert question not in missing(DEFINITION, answers_v1(rf_injury="no"))
    # A "when" left over from an earlier yes raises nothing once the answer is no.
    answers = answers_v1(dob="1990-01-01", rf_injury="no", rf_injury_when="past_6_weeks")
    assert flags.compute(DEFINITION, answers, SENT) == []


@pytest.mark.parametrize("born,noted", [
    ("1975-12-01", True),   # 51 today
    ("1975-12-02", False),  # 51 tomorrow: 50 today
    ("1976-06-01", False),  # 50
    ("1940-01-01", True),
], ids=["51-today", "50-turns-51-tomorrow", "50", "86"])
def test_age_over_50_is_a_note_from_the_date_of_birth(born, noted):
    """Tumour: age over 50 (AHCPR table), judged on the day the intake is sent; a note for
    the practitioner, not a red flag, and no advice for the patient (NICE: single red flags
    are weak evidence)."""
    answers = answers_v1(dob=born)
    raised = flags.compute(DEFINITION, answers, SENT)
    assert (raised == [{"code": "age_over_50", "kind": "note", "advice": None}]) is noted
    assert noted or raised == []
    assert flags.advice_levels(DEFINITION, answers) == []
    assert flags.counts(raised) == {"has_red_flags": False, "red_flag_count": 0,
                                    "precaution_count": 0}


def test_without_a_day_no_age_is_judged():
    assert flags.raised(DEFINITION, answers_v1(dob="1940-01-01")) == []
