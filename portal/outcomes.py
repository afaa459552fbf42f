"""Clinically important change (SPEC 4.4): the one place that holds the thresholds and says
whether a patient is improved, unchanged or worse. The dashboard, the worklist and the
patient's pages all ask here; nothing else compares scores to thresholds.

NPRS (pain, 0 = no pain, 10 = worst imaginable; lower is better)
  * **Improved**: at least ``NPRS_IMPROVED_POINTS`` (2) points *and* at least
    ``NPRS_IMPROVED_FRACTION`` (30%) below the baseline. IMMPACT: a reduction of 30% or more
    is a moderately important change, and about 2 points corresponds to it (Dworkin et al.,
    J Pain 2008;9:105-121; Farrar et al., Pain 2001;94:149-158). Both conditions together,
    because the points needed depend on the baseline (about 1 point from a baseline of 1-4,
    3-4 points from 8-10): 2 points from a baseline of 9 is only 22%, and 30% of a baseline
    of 3 is not even 1 point. See CLINICAL.md, "Clinically important change".
  * **Worse**: ``NPRS_WORSE_POINTS`` (2) points or more above the baseline, *or* 2 points or
    more up between the last two ratings. The portal's rule (CLINICAL.md), taking the same
    2 points as the size of a change that matters (Farrar 2001).
  * When a rating is both improved from the baseline and 2 points up on the previous one,
    the answer is **worse**: a rise is what a clinician should look at first, and the portal
    alerts rather than reassures (CLINICAL.md: "the portal alerts a clinician and never
    decides by itself").
  * **Unknown** when there is nothing to compare: no rating; or no baseline and fewer than
    two ratings (without a baseline only the last-two rule can be applied, so only "worse"
    or "unknown" can come out).

PSFS (function, each activity 0 = unable, 10 = as before the problem; higher is better)
  * Minimal detectable change: 2 points on the mean score, 3 points on a single activity
    (Stratford et al., Physiotherapy Canada 1995;47:258-263). The mean says improved or
    worse; each activity that moved by 3 points or more is reported by name.

PEG has no published MCID: shown as a number, never classified (CLINICAL.md).

Every function here is pure (numbers in, answer out), so that the thresholds are tested on
their own, boundaries included.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

IMPROVED = "improved"
UNCHANGED = "unchanged"
WORSE = "worse"
UNKNOWN = "unknown"
STATUSES = (IMPROVED, UNCHANGED, WORSE, UNKNOWN)

# NPRS: IMMPACT (Dworkin 2008), Farrar 2001.
NPRS_IMPROVED_POINTS = 2
NPRS_IMPROVED_FRACTION = Fraction(30, 100)
NPRS_WORSE_POINTS = 2

# PSFS: Stratford 1995.
PSFS_MEAN_POINTS = 2
PSFS_ITEM_POINTS = 3

SCALE = range(0, 11)


def _check(value: int | None, what: str) -> None:
    if value is not None and value not in SCALE:
        raise ValueError(f"{what} must be 0-10, got {value!r}")


# --- NPRS ---------------------------------------------------------------------------------

def nprs_improved(baseline: int, latest: int) -> bool:
    """At least 2 points and at least 30% below the baseline (exact arithmetic: 3 points
    down from 10 is exactly 30% and counts)."""
    drop = baseline - latest
    if baseline <= 0 or drop < NPRS_IMPROVED_POINTS:
        return False
    return Fraction(drop, baseline) >= NPRS_IMPROVED_FRACTION


def nprs_worse_than_baseline(baseline: int, latest: int) -> bool:
    return latest - baseline >= NPRS_WORSE_POINTS


def nprs_worse_than_previous(previous: int, latest: int) -> bool:
    return latest - previous >= NPRS_WORSE_POINTS


@dataclass(frozen=True)
class NprsChange:
    status: str
    baseline: int | None
    latest: int | None
    previous: int | None = None
    # Why "worse" (either or both): "baseline", "last_two".
    reasons: tuple[str, ...] = ()

    @property
    def points(self) -> int | None:
        """Change from the baseline; negative is less pain."""
        if self.baseline is None or self.latest is None:
            return None
        return self.latest - self.baseline

    @property
    def percent(self) -> float | None:
        """Change from the baseline in percent of it (None from a baseline of 0)."""
        if self.points is None or not self.baseline:
            return None
        return 100 * self.points / self.baseline


def classify_nprs(baseline: int | None, ratings: Sequence[int]) -> NprsChange:
    """The patient's NPRS status from the baseline and their ratings, oldest first."""
    _check(baseline, "baseline")
    for value in ratings:
        _check(value, "rating")
    latest = ratings[-1] if ratings else None
    previous = ratings[-2] if len(ratings) >= 2 else None
    if latest is None:
        return NprsChange(UNKNOWN, baseline, None)
    reasons = []
    if baseline is not None and nprs_worse_than_baseline(baseline, latest):
        reasons.append("baseline")
    if previous is not None and nprs_worse_than_previous(previous, latest):
        reasons.append("last_two")
    if reasons:
        return NprsChange(WORSE, baseline, latest, previous, tuple(reasons))
    if baseline is None:
        return NprsChange(UNKNOWN, None, latest, previous)
    if nprs_improved(baseline, latest):
        return NprsChange(IMPROVED, baseline, latest, previous)
    return NprsChange(UNCHANGED, baseline, latest, previous)


@dataclass(frozen=True)
class CoursePoint:
    """The patient's NPRS outcome as it stood just after one rated session: what the clinic's
    outcome figures add up (portal.clinic.outcomes.services), stored one row per rating."""
    number: int  # the session's number in the course (cancelled sessions take none)
    pain: int
    previous: int | None  # the rating before this one
    change: int | None  # pain - baseline
    status: str  # classify_nprs(baseline, ratings up to this one)
    first_improved: int | None  # the first session, up to this one, that met nprs_improved
    rated: int  # ratings up to this one


def course_points(baseline: int | None,
                  rated: Sequence[tuple[int, int]]) -> list[CoursePoint]:
    """One CoursePoint per rating; ``rated`` is (session number, pain) in course order."""
    points: list[CoursePoint] = []
    pains: list[int] = []
    first_improved = None
    for number, pain in rated:
        pains.append(pain)
        change = classify_nprs(baseline, pains)
        if first_improved is None and baseline is not None and nprs_improved(baseline, pain):
            first_improved = number
        points.append(CoursePoint(number, pain, change.previous, change.points, change.status,
                                  first_improved, len(pains)))
    return points


# --- PSFS ---------------------------------------------------------------------------------

def mean(scores: Iterable[int]) -> float | None:
    values = list(scores)
    return round(sum(values) / len(values), 2) if values else None


@dataclass(frozen=True)
class PsfsChange:
    status: str
    baseline_mean: float | None
    latest_mean: float | None
    # Activities (by name) that moved by PSFS_ITEM_POINTS or more, with the change.
    improved_items: tuple[tuple[str, int], ...] = ()
    worse_items: tuple[tuple[str, int], ...] = ()
    items: dict[str, int] = field(default_factory=dict)


def classify_psfs(baseline: dict[str, int], latest: dict[str, int]) -> PsfsChange:
    """``baseline`` and ``latest``: activity name -> score. The means compare the activities
    rated both times (the same activities carry forward from the intake)."""
    for value in (*baseline.values(), *latest.values()):
        _check(value, "PSFS score")
    common = [name for name in baseline if name in latest]
    if not common:
        return PsfsChange(UNKNOWN, mean(baseline.values()), mean(latest.values()))
    before = mean(baseline[n] for n in common)
    after = mean(latest[n] for n in common)
    changes = {n: latest[n] - baseline[n] for n in common}
    improved_items = tuple((n, d) for n, d in changes.items() if d >= PSFS_ITEM_POINTS)
    worse_items = tuple((n, d) for n, d in changes.items() if -d >= PSFS_ITEM_POINTS)
    # Compare sums, not rounded means: exactly 2 points on the mean counts.
    total_change = sum(changes.values())
    if total_change >= PSFS_MEAN_POINTS * len(common):
        status = IMPROVED
    elif -total_change >= PSFS_MEAN_POINTS * len(common):
        status = WORSE
    else:
        status = UNCHANGED
    return PsfsChange(status, before, after, improved_items, worse_items, changes)
