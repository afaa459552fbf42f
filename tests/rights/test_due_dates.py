"""A request of the register falls due at the end of the clinic's 30th day after the clinic's
date of receipt (PHIPA s. 54(2)), whatever the UTC date of receipt."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.clinic_settings import current_settings
from portal.rights.dates import due_at_for


@pytest.fixture
def toronto(app, db):
    current_settings().timezone = "America/Toronto"  # UTC-5 in winter, UTC-4 in summer
    db.session.commit()


def test_due_at_end_of_the_clinics_30th_day(toronto):
    # 15:00 UTC on 2 November is 10:00 in Toronto: 2 November + 30 days = 2 December,
    # whose last second in Toronto (UTC-5) is 04:59:59 UTC on 3 December.
    received = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert due_at_for(received) == datetime(2026, 12, 3, 4, 59, 59, tzinfo=UTC)


def test_an_evening_request_counts_from_the_clinics_date_not_utcs(toronto):
    # 03:00 UTC on 10 December is still 9 December (22:00) in Toronto.
    received = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    assert due_at_for(received) == datetime(2027, 1, 9, 4, 59, 59, tzinfo=UTC)


def test_across_a_change_of_clock(toronto):
    # Received 20 October (daylight time, UTC-4); due 19 November (standard time, UTC-5).
    received = datetime(2026, 10, 20, 16, 0, tzinfo=UTC)
    assert due_at_for(received) == datetime(2026, 11, 20, 4, 59, 59, tzinfo=UTC)


def test_naive_times_are_utc_and_the_result_is_aware_utc(toronto):
    due = due_at_for(datetime(2026, 11, 2, 15, 0))
    assert due.utcoffset().total_seconds() == 0
    assert due == datetime(2026, 12, 3, 4, 59, 59, tzinfo=UTC)
