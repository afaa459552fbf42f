"""Clinically important change (SPEC 4.4): the one place that holds the thresholds and says
whether a patient is improved, unchanged or worse. The dashboard, the worklist and the
patient's pages all ask here; nothing else compares scores to thresholds.

NPRS (pain, 0 = no pain, 10 = worst imaginable; lower is better)
  * **Improved** (a **responder**): the latest follow-up is at least ``NPRS_IMPROVED_POINTS``
    (2) points *and* at least ``NPRS_IMPROVED_FRACTION`` (30%) below the baseline. IMMPACT:
    a reduction of 30% or more is a moderately important change, and about 2 points
    corresponds to it (Dworkin et al., J Pain 2008;9:105-121; Farrar et al., Pain
    2001;94:149-158). Both conditions together, because the points needed depend on the
    baseline (about 1 point from a baseline of 1-4, 3-4 points from 8-10;
    doi:10.1055/a-1304-3677; in chronic musculoskeletal pain 2 points / 33% was "much
    better", Salaffi et al., Eur J Pain 2004;8:283-291): 2 points from a baseline of 9 is
    only 22%, and 30% of a baseline of 3 is not even 1 point. See CLINICAL.md, "Clinically
    important change".
  * **Worsening** is an alert of its own: ``NPRS_WORSE_POINTS`` (2) points or more above the
    baseline, *or* 2 points or more up between the last two ratings. The portal's rule
    (CLINICAL.md), taking the same 2 points as the size of a change that matters (Farrar
    2001).
  * One rule everywhere (CLINICAL.md, "Responder"; SPEC 4.4): the status follows the
    baseline rule alone, so a course 8 -> 2 -> 4 (50% below the baseline) is **improved**,
    a responder, *and* carries the worsening alert (2 points up since last time): "improved
    since starting; 2 points worse than last time". ``worsening`` says whether the alert
    stands, whatever the status; the status is **worse** only when the alert stands and the
    patient is not a responder (from the baseline, the two cannot both hold).
  * **Unknown** when there is nothing to compare: no rating; or no baseline (without a
    baseline only the last-two rule can be applied, so the status is "worse" or "unknown").

PSFS (function, each activity 0 = unable, 10 = as before the problem; higher is better)
  * Minimal detectable change: 2 points on the mean score, 3 points on a single activity
    (Stratford et al., Physiotherapy Canada 1995;47:258-263; CLINICAL.md: "a patient with
    one activity is judged at 3"). The mean of several activities says improved or worse at
    2 points; a patient with one activity (rated at the start and now) is judged at 3. Each
    activity that moved by 3 points or more is reported by name.

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
    # Why the worsening alert stands (either or both): "baseline", "last_two"; empty when it
    # does not. A responder can have it ("last_two" only).
    reasons: tuple[str, ...] = ()

    @property
    def responder(self) -> bool:
        """The latest follow-up meets the improvement rule (CLINICAL.md, "Responder")."""
        return self.status == IMPROVED

    @property
    def worsening(self) -> bool:
        return bool(self.reasons)

    @property
    def points(self) -> int | None:
        """Change from the baseline; negative is less pain."""
        if self.baseline is None or self.latest is None:
            return None
        return self.latest - self.baseline

    @property
    def points_since_previous(self) -> int | None:
        if self.previous is None or self.latest is None:
            return None
        return self.latest - self.previous

    @property
    def percent(self) -> float | None:
        """Change from the baseline in percent of it (None from a baseline of 0)."""
        if self.points is None or not self.baseline:
            return None
        return 100 * self.points / self.baseline


def worsening_reasons(baseline: int | None, previous: int | None,
                      latest: int) -> tuple[str, ...]:
    reasons = []
    if baseline is not None and nprs_worse_than_baseline(baseline, latest):
        reasons.append("baseline")
    if previous is not None and nprs_worse_than_previous(previous, latest):
        reasons.append("last_two")
    return tuple(reasons)


def nprs_status(baseline: int | None, latest: int, worsening: bool) -> str:
    """The responder rule first (CLINICAL.md), then the worsening alert."""
    if baseline is not None and nprs_improved(baseline, latest):
        return IMPROVED
    if worsening:
        return WORSE
    return UNKNOWN if baseline is None else UNCHANGED


def classify_nprs(baseline: int | None, ratings: Sequence[int]) -> NprsChange:
    """The patient's NPRS status from the baseline and their ratings, oldest first."""
    _check(baseline, "baseline")
    for value in ratings:
        _check(value, "rating")
    latest = ratings[-1] if ratings else None
    previous = ratings[-2] if len(ratings) >= 2 else None
    if latest is None:
        return NprsChange(UNKNOWN, baseline, None)
    reasons = worsening_reasons(baseline, previous, latest)
    return NprsChange(nprs_status(baseline, latest, bool(reasons)), baseline, latest,
                      previous, reasons)


@dataclass(frozen=True)
class CoursePoint:
    """The patient's NPRS outcome as it stood just after one rated session: what the clinic's
    outcome figures add up (portal.clinic.outcomes.services), stored one row per rating."""
    number: int  # the session's number in the course (cancelled sessions take none)
    pain: int
    previous: int | None  # the rating before this one
    change: int | None  # pain - baseline
    status: str  # classify_nprs(baseline, ratings up to this one)
    worsening: bool  # the worsening alert stands (beside any status)
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
                                  change.worsening, first_improved, len(pains)))
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


def psfs_threshold(activities: int) -> int:
    """Points the mean must move by: 3 for a single activity, 2 for the mean of several."""
    return PSFS_ITEM_POINTS if activities == 1 else PSFS_MEAN_POINTS


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
    # Compare sums, not rounded means: exactly 2 points on the mean counts. One activity is
    # judged at 3 points (Stratford 1995; CLINICAL.md).
    total_change = sum(changes.values())
    threshold = psfs_threshold(len(common)) * len(common)
    if total_change >= threshold:
        status = IMPROVED
    elif -total_change >= threshold:
        status = WORSE
    else:
        status = UNCHANGED
    return PsfsChange(status, before, after, improved_items, worse_items, changes)
