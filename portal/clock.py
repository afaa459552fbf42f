"""The portal's one source of "now" (UTC, timezone-aware).

Tests move it forward instead of sleeping: ``clock.advance(minutes=31)``.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytz

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(**kwargs) -> None:
    global _offset
    _offset += timedelta(**kwargs)


def reset() -> None:
    global _offset
    _offset = timedelta(0)



def today_in(zone_name: str) -> date:
    """Today's date on the wall clock of ``zone_name``, by the same rules Flask-Babel shows
    times with (pytz's, which can be newer than the system's zoneinfo: British Columbia's
    permanent daylight time from November 2026 is one such difference), so a date checked
    here agrees with the dates on the pages."""
    return now().astimezone(pytz.timezone(zone_name)).date()
