"""Server-drawn line charts for pain and function over sessions (SPEC 4.3).

This module does the geometry only (numbers in, coordinates out); the template
``treatment/_chart.html`` writes the SVG with its <title>, <desc> and the data table beside
it, so the words stay translatable. The SVG scales with its ``viewBox`` at ``width="100%"``
(a phone, 200% zoom, print) and uses presentation attributes and classes, never ``style``
(the CSP forbids inline styles).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.treatment.services import Progress

WIDTH, HEIGHT = 360, 236
LEFT, RIGHT, TOP, BOTTOM = 50, 18, 16, 54
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Item:
    """One plotted value: the session's number, its time, the value (0-10). ``label`` names
    the point on the x axis when the number alone would not (e.g. "12+")."""
    number: int
    when: datetime | None
    value: float
    label: str | None = None
    # Which question the value answered, shown beside it in the table (the follow-up
    # score: the average pain over 24 hours, or the pain at the time of rating before).
    question: str | None = None


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    item: Item


@dataclass
class Chart:
    chart_id: str
    y_max: int
    points: list[Point]
    baseline: float | None = None
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    # The value at the bottom of the plot: below 0 for changes (the clinic's outcomes).
    y_min: int = 0

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def left(self) -> int:
        return LEFT

    @property
    def right(self) -> int:
        return self.width - RIGHT

    @property
    def top(self) -> int:
        return TOP

    @property
    def bottom(self) -> int:
        return self.height - BOTTOM

    def y_for(self, value: float) -> float:
        """The y coordinate of ``value`` (y_min at the bottom of the plot, y_max at the
        top)."""
        span = self.bottom - self.top
        return round(self.bottom - span * (value - self.y_min) / (self.y_max - self.y_min), 2)

    def value_for(self, y: float) -> float:
        """The inverse of y_for: what a point at ``y`` shows (the tests read charts back)."""
        span = self.bottom - self.top
        return self.y_min + (self.bottom - y) * (self.y_max - self.y_min) / span

    @property
    def baseline_y(self) -> float | None:
        return None if self.baseline is None else self.y_for(self.baseline)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:g},{p.y:g}" for p in self.points)

    @property
    def radius(self) -> float:
        """Smaller dots when there are many, so that neighbours do not merge."""
        n = len(self.points)
        return 5 if n <= 12 else 4 if n <= 25 else 3

    @property
    def empty(self) -> bool:
        return not self.points


def _x_positions(n: int) -> list[float]:
    left, right = LEFT + 12, WIDTH - RIGHT - 12
    if n == 1:
        return [round((left + right) / 2, 2)]
    step = (right - left) / (n - 1)
    return [round(left + i * step, 2) for i in range(n)]


def _x_ticks(points: list[Point]) -> list[tuple[float, str]]:
    """At most MAX_X_LABELS session numbers, evenly picked, the last one always shown
    (unless it would sit on its neighbour)."""
    n = len(points)
    if not n:
        return []
    step = max(1, math.ceil(n / MAX_X_LABELS))
    chosen = list(range(0, n, step))
    if chosen[-1] != n - 1:
        if n - 1 - chosen[-1] < step / 2 + 0.5:
            chosen[-1] = n - 1
        else:
            chosen.append(n - 1)
    return [(points[i].x, points[i].item.label or str(points[i].item.number)) for i in chosen]


def line_chart(chart_id: str, items: list[Item], baseline: float | None = None,
               y_max: int = 10, tick_every: int = 2, y_min: int = 0) -> Chart:
    chart = Chart(chart_id=chart_id, y_max=y_max, points=[], baseline=baseline, y_min=y_min)
    xs = _x_positions(len(items)) if items else []
    chart.points = [Point(x, chart.y_for(item.value), item) for x, item in zip(xs, items)]
    chart.y_ticks = [(chart.y_for(v), v) for v in range(y_min, y_max + 1, tick_every)]
    chart.x_ticks = _x_ticks(chart.points)
    return chart


# --- a course's charts ----------------------------------------------------------------

def _nprs_chart(progress: Progress, chart_id: str) -> Chart:
    from portal.treatment import display

    items = [Item(r.number, r.session.treated_at, r.rating.follow_up_score,
                  question=display.score_question(r.rating.score_question))
             for r in progress.rated]
    return line_chart(chart_id, items, baseline=progress.baseline.value)


def _psfs_chart(progress: Progress, chart_id: str) -> Chart:
    items = [Item(p.number, p.session.treated_at, p.mean) for p in progress.psfs_points
             if p.mean is not None]
    return line_chart(chart_id, items, baseline=progress.psfs_baseline_mean)


def chart_context(progress: Progress, prefix: str) -> dict:
    """The pain and activity charts of a course, with what the page says beside them (the
    patient's progress page and the chart's ratings tab)."""
    from portal.treatment import display

    return {"progress": progress,
            "nprs_chart": _nprs_chart(progress, f"{prefix}-nprs"),
            "psfs_chart": _psfs_chart(progress, f"{prefix}-psfs"),
            "change_sentence": display.change_sentence(progress.nprs),
            "change_detail": display.change_detail(progress.nprs),
            "display": display}
