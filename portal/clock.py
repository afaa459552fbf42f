"""The portal's one source of "now" (UTC, timezone-aware).

Tests move it forward instead of sleeping: ``clock.advance(minutes=31)``.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(timezone.utc) + _offset


def advance(**kwargs) -> None:
    global _offset
    _offset += timedelta(**kwargs)


def reset() -> None:
    global _offset
    _offset = timedelta(0)

