"""Scores (SPEC 2.7): NPRS (IMMPACT, Dworkin 2008), PEG-3 mean (Krebs 2009), PSFS mean
(Stratford 1995), with boundaries and missing items."""
from __future__ import annotations

import pytest

from portal.intake import answers
from portal.intake.questionnaires import scoring
from portal.intake.services import current_definition
from tests.intake.helpers import answers_v1


@pytest.mark.parametrize("value,expected", [
    (0, 0), (10, 10), (5, 5),
    (-1, None), (11, None), (None, None), ("5", None), (5.5, None), (True, None),
])
def test_nprs_is_the_number_from_0_to_10(value, expected):
    assert scoring.nprs(value) == expected


@pytest.mark.parametrize("items,expected", [
    ((0, 0, 0), 0.0), ((10, 10, 10), 10.0), ((5, 6, 7), 6.0), ((1, 2, 2), 1.67),
    ((0, 10, 10), 6.67),
    ((None, 5, 5), None), ((5, None, 5), None), ((5, 5, None), None),  # an item missing
    ((11, 5, 5), None), ((5, -1, 5), None), (("5", 5, 5), None),     # out of range
])
def test_peg_is_the_mean_of_three_items_or_nothing(items, expected):
    assert scoring.peg(*items) == expected


@pytest.mark.parametrize("scores,expected", [
    ([3], 3.0), ([0], 0.0), ([10], 10.0), ([0, 10], 5.0), ([3, 2, 5], 3.33),
    ([1, 2, 3, 4, 5], 3.0),
    ([], None), ([None], None),
    ([None, 4], 4.0), ([11, 4], 4.0), ([-1, 4, "9"], 4.0),  # unrated or invalid: left out
])
def test_psfs_is_the_mean_of_the_rated_activities(scores, expected):
    assert scoring.psfs(scores) == expected


def test_psfs_scores_from_stored_rows():
    rows = [{"activity": "Walk", "score": 4}, {"activity": "Lift", "score": 0},
            {"activity": "Odd"}, "junk"]
    assert scoring.psfs_scores(rows) == [4, 0]
    assert scoring.psfs_scores(None) == []


def test_compute_from_a_definition(app):
    definition = current_definition()
    scores = scoring.compute(definition, answers_v1())
    assert scores == {"nprs_now": 6, "nprs_average": 5, "nprs_worst": 8, "nprs_baseline": 5,
                      "peg": 6.0, "psfs": 4.0, "psfs_items": 2}


def test_compute_with_items_missing(app):
    definition = current_definition()
    scores = scoring.compute(definition, answers_v1(nprs_average=None, psfs=None))
    # The baseline is the average pain over the past week: without it there is none, and
    # PEG (whose pain item it also is) has no score either.
    assert scores["nprs_baseline"] is None and scores["peg"] is None
    assert scores["nprs_now"] == 6
    assert scores["psfs"] is None and scores["psfs_items"] == 0


def test_stored_answers_cannot_name_an_activity_twice(app):
    """The intake's PSFS mean counts every row and the follow-ups' baseline one row per name:
    an answer naming an activity twice (case and spacing aside) is not one the portal
    stores, so the two can never disagree."""
    definition = current_definition()
    twice = [{"activity": "Walk the dog", "score": 5}, {"activity": "walk  THE dog", "score": 3}]
    assert answers.problems(definition, answers_v1(psfs=twice))
    once = [{"activity": "Walk", "score": 5}, {"activity": "Lift", "score": 3}]
    assert answers.problems(definition, answers_v1(psfs=once)) == []
