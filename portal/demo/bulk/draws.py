"""What one generated patient gets (``Plan``), and the seeded draws it is made of."""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from portal.searchtext import fold


@dataclass
class Plan:
    """Everything one generated patient gets, before the ids are known."""
    user: dict[str, Any]
    patient: dict[str, Any]
    token: dict[str, Any] | None = None
    intake: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None
    # The practitioner's consent discussion of that signature, before the first session.
    discussion: dict[str, Any] | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sessions: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    # OutcomePoint rows, one per rating in the order of ``sessions`` (ids filled in later).
    points: list[dict[str, Any]] = field(default_factory=list)
    # FollowUp rows after a discharge (portal/demo/bulk/follow_ups.py).
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


class Draws:
    """The generator's one ``random.Random`` and the moment it plans from. Every part of a
    patient draws from the same ``rng``, in the same order, so a seed gives the same
    patients."""

    def __init__(self, rng: random.Random, now: datetime, today: date):
        self.rng = rng
        self.now = now
        self.today = today

    def public_id(self, nbytes: int = 12) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(nbytes)).decode().rstrip("=")

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def before_now(self, moment: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
        return min(moment, self.now - margin)


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def slug(text_: str) -> str:
    return "".join(c for c in fold(text_) if c.isascii() and c.isalnum())
