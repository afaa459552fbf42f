"""Red flags and IMS precautions (SPEC 2.3 step 5, 2.7; CLINICAL.md), one by one."""
from __future__ import annotations

import pytest

from portal.intake import flags
from portal.intake.definitions import FOLDER, load_folder
from tests.intake.helpers import answers_v1

DEFINITION = load_folder(FOLDER).questionnaire("ims_intake")

# Every red flag and precaution SPEC 2.3 names, by the code the definition gives it.
SPEC_RED_FLAGS = {"major_trauma", "minor_trauma_fragile_bones", "cancer_history",
                  "unexplained_weight_loss", "night_or_rest_pain", "fever_or_infection",
                  "iv_drug_use", "immune_suppression_infection_risk",
                  "cauda_equina_saddle_numbness", "cauda_equina_bladder_bowel",
                  "progressive_leg_weakness"}
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
    assert flags.compute(DEFINITION, answers_v1()) == []


@pytest.mark.parametrize("flag", DEFINITION.flags, ids=lambda f: f.code)
def test_each_flag_is_raised_by_its_answer(flag):
    question = DEFINITION.questions[flag.when.question]
    answers = answers_v1(**{question.id: flag.when.values()[0]})
    raised = flags.compute(DEFINITION, answers)
    codes = {f["code"] for f in raised}
    assert flag.code in codes
    # Nothing else, except other flags of the same answer (cancer: red flag and precaution).
    siblings = {f.code for f in DEFINITION.flags if f.when.question == question.id}
    assert codes <= siblings
    stored = next(f for f in raised if f["code"] == flag.code)
    assert stored["kind"] == flag.kind
    if flag.kind == "red_flag":
        assert stored["advice"] in ("emergency", "urgent", "soon")
        assert (stored["advice"] == "emergency") is (flag.code in EMERGENCY)
        # The patient is shown the advice of this answer.
        assert stored["advice"] in flags.advice_levels(DEFINITION, answers)
    else:
        assert stored["advice"] is None


@pytest.mark.parametrize("answer,raised", [("yes", True), ("not_sure", True), ("no", False),
                                           ("not_applicable", False)])
def test_pregnancy_or_maybe_is_a_precaution(answer, raised):
    codes = {f["code"] for f in flags.compute(DEFINITION, answers_v1(pc_pregnancy=answer))}
    assert ("pregnancy" in codes) is raised


def test_cauda_equina_gives_emergency_advice_first():
    answers = answers_v1(rf_cancer="yes", rf_bladder_bowel="yes", rf_fever="yes")
    assert flags.advice_levels(DEFINITION, answers) == ["emergency", "urgent", "soon"]
    kinds = [f["kind"] for f in flags.compute(DEFINITION, answers)]
    assert kinds == sorted(kinds, key=lambda k: k != "red_flag")  # red flags first


def test_advice_for_each_answer_that_needs_it():
    advice = flags.question_advice(DEFINITION)
    assert advice["rf_saddle_numbness"] == {"yes": "emergency"}
    assert "pc_anticoagulant" not in advice  # precautions alert staff, not the patient
    assert set(advice) == {f.when.question for f in DEFINITION.flags if f.kind == "red_flag"}


def test_the_anticoagulant_flag_carries_drug_and_dose():
    flag = DEFINITION.flag("anticoagulant")
    assert flag.kind == "precaution"
    assert flag.details == ("pc_anticoagulant_name", "pc_anticoagulant_dose")
