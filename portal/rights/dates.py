"""When a request of the register falls due (SPEC 11.1).

Ontario's Personal Health Information Protection Act, 2004, s. 54(2): a custodian answers a
request for access "as soon as possible in the circumstances but no later than 30 days after
receiving the request" (s. 54(3): extendable by up to 30 more days, with written notice);
s. 55(2) sets the same period for a request for correction. The period counts in calendar
days from the clinic's date of receipt, so a request received late in the evening is counted
from the day the clinic received it on its own wall clock, and it falls due at the end of the
30th day there."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from portal.treatment.times import clinic_date, clinic_datetime

# PHIPA s. 54(2) and s. 55(2).
ANSWER_WITHIN_DAYS = 30
END_OF_DAY = time(23, 59, 59)


def due_at_for(received_at: datetime, days: int = ANSWER_WITHIN_DAYS) -> datetime:
    """The end of the clinic's calendar day ``days`` after the clinic's date of
    ``received_at`` (the last second of that day on the clinic's wall clock), as an aware
    UTC datetime. ``days`` is also how far an extension with notice moves it (s. 54(3))."""
    if received_at.tzinfo is None:  # stored times are UTC
        received_at = received_at.replace(tzinfo=UTC)
    day = clinic_date(received_at) + timedelta(days=days)
    return clinic_datetime(day, END_OF_DAY)
