"""The clinic's "today" agrees with the dates the pages show, by the hour, around midnight.

Flask-Babel converts times with pytz, whose rules can be newer than the system's zoneinfo
(British Columbia's permanent daylight time from November 2026 is one such difference): a
"not in the future" check or a clearance's last valid day computed by other rules would be
an hour off, and the wrong day for an hour every night."""
from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import to_user_timezone

from portal import clock
from portal.clinic_settings import current_settings
from portal.documents import services as documents
from portal.intake import services as intake


def test_every_clinic_date_is_the_day_the_pages_show(app, db):
    zone = current_settings().timezone
    start = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    clock.advance(seconds=(start - clock.now()).total_seconds())
    with app.test_request_context():
        for _hour in range(48):  # two days: both midnights, whatever the offset
            shown = to_user_timezone(clock.now()).date()
            assert intake.today() == shown, (zone, clock.now())
            assert documents.today() == shown, (zone, clock.now())
            assert clock.today_in(zone) == shown
            clock.advance(hours=1)


def test_british_columbia_in_november_2026():
    """pytz's rules, pinned: 07:30 UTC on 2026-11-25 is already that day in Vancouver
    (UTC-7 from November 2026) though the older rule (UTC-8) would still say the 24th."""
    moment = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
    clock.advance(seconds=(moment - clock.now()).total_seconds())
    assert clock.today_in("America/Vancouver").isoformat() == "2026-11-25"
    clock.advance(hours=-1)
    assert clock.today_in("America/Vancouver").isoformat() == "2026-11-24"
