"""Clinically important change (SPEC 4.4, portal/outcomes.py): the boundaries of each
threshold, and properties that hold for every input."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import outcomes
from portal.outcomes import IMPROVED, UNCHANGED, UNKNOWN, WORSE, classify_nprs, classify_psfs

scores = st.integers(min_value=0, max_value=10)


# --- NPRS boundaries ------------------------------------------------------------------------

# The boundary table of the responder rule (latest follow-up at least 2 points AND at least
# 30% below the baseline; IMMPACT, Dworkin 2008; Farrar 2001) and of the worsening alert
# (2 points or more above the baseline; CLINICAL.md). One rating after the baseline, so the
# last-two rule cannot apply. Columns: baseline, latest, status, responder, worsening alert.
BOUNDARIES = [
    # Exactly 2 points: a responder when that is also at least 30% ...
    (6, 4, IMPROVED, True, False),     # 2 points, 33%
    (5, 3, IMPROVED, True, False),     # 2 points, 40%
    # ... and not when it is less than 30%.
    (7, 5, UNCHANGED, False, False),   # 2 points, 28.6% (29%)
    (9, 7, UNCHANGED, False, False),   # 2 points, 22%
    # Exactly 30%: a responder when that is also at least 2 points.
    (10, 7, IMPROVED, True, False),    # 3 points, exactly 30%
    (10, 8, UNCHANGED, False, False),  # 2 points, 20%
    # 30% or more but under 2 points (1 point: the integer scale's step below 2): not enough.
    (3, 2, UNCHANGED, False, False),   # 1 point, 33%
    (4, 3, UNCHANGED, False, False),   # 1 point, 25%
    # Baseline 2: only 0 (2 points, 100%) is a response; 1 point (50%) is not.
    (2, 0, IMPROVED, True, False),
    (2, 1, UNCHANGED, False, False),
    (2, 4, WORSE, False, True),        # exactly 2 points up
    (2, 3, UNCHANGED, False, False),   # 1 point up
    # Baseline 1: no drop of 2 points is possible; 2 points up is worse.
    (1, 0, UNCHANGED, False, False),
    (1, 3, WORSE, False, True),
    # Baseline 0: no improvement is possible; 2 points up is worse, 1 point is not.
    (0, 0, UNCHANGED, False, False), (0, 1, UNCHANGED, False, False),
    (0, 2, WORSE, False, True),
    # Baseline 10: at least 3 points down (30%).
    (10, 9, UNCHANGED, False, False), (10, 0, IMPROVED, True, False),
    # Worse from the baseline: exactly 2 points.
    (5, 6, UNCHANGED, False, False), (5, 7, WORSE, False, True),
    (8, 10, WORSE, False, True), (9, 10, UNCHANGED, False, False),
    # No change at all.
    (6, 6, UNCHANGED, False, False),
]


@pytest.mark.parametrize("baseline, latest, status, responder, worsening", BOUNDARIES)
def test_nprs_against_the_baseline(baseline, latest, status, responder, worsening):
    change = classify_nprs(baseline, [latest])
    assert (change.status, change.responder, change.worsening) == \
        (status, responder, worsening)
    assert outcomes.nprs_improved(baseline, latest) is responder


def test_a_responder_can_carry_a_worsening_alert():
    """8 -> 2 -> 4 is 50% below the baseline: a responder, with the alert for the 2 points
    up since last time (CLINICAL.md, "Responder")."""
    change = classify_nprs(8, [2, 4])
    assert change.status == IMPROVED and change.responder
    assert change.worsening and change.reasons == ("last_two",)
    assert change.points == -4 and change.points_since_previous == 2
    # 1 point up between the last two is no alert.
    change = classify_nprs(8, [2, 3])
    assert change.status == IMPROVED and not change.worsening


def test_worse_over_the_last_two_ratings_when_not_a_responder():
    change = classify_nprs(6, [3, 5])  # 1 point below the baseline, 2 up since last time
    assert change.status == WORSE and not change.responder and change.reasons == ("last_two",)


def test_both_worsening_reasons_are_given():
    assert classify_nprs(4, [4, 6]).reasons == ("baseline", "last_two")


def test_only_the_last_two_ratings_count_for_the_recent_rise():
    # A rise long ago and a fall since: no alert.
    assert classify_nprs(6, [2, 6, 3]).status == IMPROVED
    assert classify_nprs(6, [2, 6, 6]).status == UNCHANGED
    assert not classify_nprs(6, [2, 6, 6]).worsening


@pytest.mark.parametrize("baseline, ratings, expected", [
    (6, [], UNKNOWN),            # no rating
    (None, [], UNKNOWN),
    (None, [5], UNKNOWN),        # no baseline, one rating: nothing to compare
    (None, [5, 6], UNKNOWN),     # no baseline, a 1-point rise
    (None, [5, 7], WORSE),       # no baseline, but 2 points up since last time
    (None, [7, 3], UNKNOWN),     # improvement needs a baseline
])
def test_missing_baseline_or_ratings(baseline, ratings, expected):
    assert classify_nprs(baseline, ratings).status == expected


def test_points_and_percent():
    change = classify_nprs(7, [5, 4])
    assert change.points == -3 and round(change.percent) == -43
    assert classify_nprs(0, [3]).percent is None
    assert classify_nprs(None, [3]).points is None


@pytest.mark.parametrize("bad", [-1, 11, 4.5])
def test_values_off_the_scale_are_refused(bad):
    with pytest.raises(ValueError):
        classify_nprs(bad, [3])
    with pytest.raises(ValueError):
        classify_nprs(5, [3, bad])


# --- PSFS boundaries ------------------------------------------------------------------------

# PSFS boundary table (Stratford 1995; CLINICAL.md): several activities are judged on the
# mean at 2 points, a single activity at 3. Scores are whole numbers, so a single activity
# moves by 2 or 3, never 2.9; with several activities the mean can stop just short of 2.
PSFS_BOUNDARIES = [
    # one activity: 3 points counts, 2 does not
    ({"Gardening": 3}, {"Gardening": 6}, IMPROVED),     # +3.0
    ({"Gardening": 3}, {"Gardening": 5}, UNCHANGED),    # +2.0 (below 3)
    ({"Gardening": 6}, {"Gardening": 3}, WORSE),        # -3.0
    ({"Gardening": 6}, {"Gardening": 4}, UNCHANGED),    # -2.0
    # two activities: a mean of exactly 2 counts, 1.5 does not
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 5, "Lifting": 7}, IMPROVED),   # +2.0
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 4, "Lifting": 7}, UNCHANGED),  # +1.5
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 1, "Lifting": 3}, WORSE),      # -2.0
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 2, "Lifting": 3}, UNCHANGED),  # -1.5
    # five activities: 2.0 counts, 1.8 (the nearest below) does not
    (dict.fromkeys("ABCDE", 4), dict.fromkeys("ABCDE", 6), IMPROVED),                  # +2.0
    (dict.fromkeys("ABCDE", 4), {**dict.fromkeys("ABCD", 6), "E": 5}, UNCHANGED),      # +1.8
    # only the activities rated both times count: one in common is judged at 3
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 5}, UNCHANGED),  # +2.0 on one activity
    ({"Gardening": 3, "Lifting": 5}, {"Gardening": 6}, IMPROVED),   # +3.0 on one activity
]


@pytest.mark.parametrize("start, now, expected", PSFS_BOUNDARIES)
def test_psfs_boundaries(start, now, expected):
    assert classify_psfs(start, now).status == expected


def test_psfs_single_activity_three_points():
    start = {"Gardening": 3, "Lifting": 5, "Sleeping": 4}
    change = classify_psfs(start, {"Gardening": 6, "Lifting": 5, "Sleeping": 4})
    assert change.improved_items == (("Gardening", 3),)
    assert change.status == UNCHANGED  # the mean moved by 1
    change = classify_psfs(start, {"Gardening": 5, "Lifting": 2, "Sleeping": 4})
    assert change.worse_items == (("Lifting", -3),) and change.improved_items == ()


def test_psfs_without_common_activities():
    assert classify_psfs({}, {"Gardening": 5}).status == UNKNOWN
    assert classify_psfs({"Gardening": 5}, {}).status == UNKNOWN


# --- properties: the classification never contradicts itself --------------------------------

@settings(max_examples=200, deadline=None)
@given(baseline=st.one_of(st.none(), scores), ratings=st.lists(scores, max_size=8))
def test_nprs_classification_is_consistent(baseline, ratings):
    change = classify_nprs(baseline, ratings)
    assert change.status in outcomes.STATUSES
    if not ratings:
        assert change.status == UNKNOWN
        return
    latest = ratings[-1]
    previous = ratings[-2] if len(ratings) > 1 else None
    rose_from_baseline = baseline is not None and latest - baseline >= 2
    rose_recently = previous is not None and latest - previous >= 2
    # The alert stands exactly when a rise of 2 points does, whatever the status.
    assert change.worsening == (rose_from_baseline or rose_recently)
    if change.status == WORSE:
        assert change.worsening
    # A responder is one by the baseline rule alone, alert or not.
    responder = baseline is not None and outcomes.nprs_improved(baseline, latest)
    assert change.responder == responder == (change.status == IMPROVED)
    if change.status == IMPROVED:
        # Both thresholds hold, so the pain really is lower than at the start.
        assert baseline - latest >= 2 and (baseline - latest) * 10 >= 3 * baseline
        assert latest < baseline
    if change.status == UNCHANGED:
        assert baseline is not None
        assert not ((baseline - latest) >= 2 and (baseline - latest) * 10 >= 3 * baseline)
    if change.status == UNKNOWN:
        assert baseline is None


@settings(max_examples=200, deadline=None)
@given(baseline=scores, earlier=st.lists(scores, max_size=5), latest=scores)
def test_less_pain_never_looks_worse(baseline, earlier, latest):
    """Lowering the latest rating (all else equal) never moves the answer towards worse."""
    order = {WORSE: 0, UNCHANGED: 1, IMPROVED: 2}
    here = classify_nprs(baseline, [*earlier, latest]).status
    for lower in range(latest):
        assert order[classify_nprs(baseline, [*earlier, lower]).status] >= order[here]


@settings(max_examples=200, deadline=None)
@given(baseline=scores, latest=scores)
def test_improved_and_worse_exclude_each_other_from_the_baseline(baseline, latest):
    improved = outcomes.nprs_improved(baseline, latest)
    worse = outcomes.nprs_worse_than_baseline(baseline, latest)
    assert not (improved and worse)
    # A baseline of 0 can never improve.
    if baseline == 0:
        assert not improved


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["A", "B", "C", "D", "E"]),
                            st.tuples(scores, scores), min_size=1))
def test_psfs_classification_is_consistent(data):
    start = {k: v[0] for k, v in data.items()}
    now = {k: v[1] for k, v in data.items()}
    change = classify_psfs(start, now)
    mean_change = sum(now.values()) / len(now) - sum(start.values()) / len(start)
    needed = 3 if len(data) == 1 else 2  # Stratford 1995: one activity is judged at 3
    if change.status == IMPROVED:
        assert mean_change >= needed - 1e-9
    elif change.status == WORSE:
        assert mean_change <= -needed + 1e-9
    else:
        assert change.status == UNCHANGED and -needed < mean_change < needed
    # Swapping start and now swaps improved and worse.
    mirrored = classify_psfs(now, start).status
    assert mirrored == {IMPROVED: WORSE, WORSE: IMPROVED, UNCHANGED: UNCHANGED}[change.status]
    assert {n for n, _d in change.improved_items}.isdisjoint(n for n, _d in change.worse_items)


# --- the course, rating by rating -----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(baseline=st.none() | scores, pains=st.lists(scores, min_size=1, max_size=8),
       gaps=st.lists(st.integers(min_value=1, max_value=3), min_size=8, max_size=8))
def test_course_points_are_the_outcome_after_each_rating(baseline, pains, gaps):
    numbers = [sum(gaps[:i + 1]) for i in range(len(pains))]  # unrated sessions between
    points = outcomes.course_points(baseline, list(zip(numbers, pains)))
    assert [p.number for p in points] == numbers and [p.pain for p in points] == pains
    for i, point in enumerate(points):
        expected = classify_nprs(baseline, pains[:i + 1])
        assert (point.status, point.worsening, point.previous, point.change) == \
            (expected.status, expected.worsening, expected.previous, expected.points)
        assert point.rated == i + 1
        improved = [n for n, pain in zip(numbers[:i + 1], pains)
                    if baseline is not None and outcomes.nprs_improved(baseline, pain)]
        assert point.first_improved == (improved[0] if improved else None)


def test_course_points_by_hand():
    # 6 -> 5, 4, 7: improved at session 3 (2 points, 33%), then 3 up: worse.
    points = outcomes.course_points(6, [(1, 5), (3, 4), (4, 7)])
    assert [(p.status, p.worsening, p.change, p.first_improved) for p in points] == [
        (UNCHANGED, False, -1, None), (IMPROVED, False, -2, 3), (WORSE, True, 1, 3)]
    # 8 -> 2 -> 4: still a responder after the rise, with the alert.
    points = outcomes.course_points(8, [(1, 2), (2, 4)])
    assert [(p.status, p.worsening) for p in points] == [(IMPROVED, False), (IMPROVED, True)]
    assert outcomes.course_points(None, []) == []
