"""One class per question type (portal/intake/types/): each is registered under its TOML name
with a template that exists, reads only its own settings (another type's, or a typo in a
nested table, is refused with the loader's words), and judges stored answers without
raising."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from portal.intake import types
from portal.intake.definitions import DefinitionError, parse_questionnaire
from tests.intake.test_definitions import _mutate, _question, registry_with_consent

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize("name", list(types.TYPES))
def test_every_type_has_its_class_and_its_template(name):
    cls = types.TYPES[name]
    assert cls.type == name
    assert (TEMPLATES / cls.template).is_file(), cls.template


MISPLACED = [
    ("question 'phone': anchors are for scale questions",
     lambda d: _question(d, "phone").update(anchors={})),
    ("question 'phone': unit is for number questions",
     lambda d: _question(d, "phone").update(unit={"en": "digits", "fr_CA": "chiffres"})),
    ("question 'dob': input_type is for text questions",
     lambda d: _question(d, "dob").update(input_type="text")),
    ("question 'nprs_now': min and max are for number and date questions",
     lambda d: _question(d, "nprs_now").update(min=1)),
    ("question 'main_complaint': max_length must be a whole number from 1 to 5000",
     lambda d: _question(d, "main_complaint").update(max_length=True)),
    ("question 'sex' option 'female': unknown setting(s) ['lable'] (a typo?)",
     lambda d: _question(d, "sex")["options"][0].update(lable="x")),
    ("question 'psfs' column 'activity': unknown setting(s) ['lable'] (a typo?)",
     lambda d: _question(d, "psfs")["columns"][0].update(lable="x")),
    ("question 'nprs_now' anchors: unknown setting(s) ['middle'] (a typo?)",
     lambda d: _question(d, "nprs_now")["anchors"].update(middle={"en": "5", "fr_CA": "5"})),
    ("question 'pain_days': unit has no text for fr_CA",
     lambda d: _question(d, "pain_days").update(unit={"en": "days"})),
]


@pytest.mark.parametrize("message,change", MISPLACED, ids=[m[0] for m in MISPLACED])
def test_a_setting_the_type_does_not_take_is_refused(message, change):
    with pytest.raises(DefinitionError) as error:
        parse_questionnaire(_mutate(change), "ims_intake_v1.toml", registry_with_consent())
    assert str(error.value) == f"ims_intake_v1.toml: {message}"


def test_stored_answers_of_the_wrong_shape_are_invalid_not_errors():
    definition = parse_questionnaire(_mutate(lambda d: None), "ims_intake_v1.toml",
                                     registry_with_consent())
    today = date(2026, 1, 1)
    hostile = [None, True, 1.5, "x", [], {}, [{"a": 1}], {"front.nose": 3}, [["x"]]]
    for question in definition.questions.values():
        for value in hostile:
            assert question.value_ok(value, today) in (True, False)
    conditions = definition.questions["conditions"]
    assert conditions.value_ok(["arthritis"], today)
    assert not conditions.value_ok([{"a": 1}], today)
