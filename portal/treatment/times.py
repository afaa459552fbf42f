"""Errors and the clinic's clock for treatment (SPEC 4): the refusals the services raise,
session times on the clinic's wall clock, and the rating window's moments (opens, reminder
due, closes, editable until)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytz
from flask import current_app
from flask_babel import get_timezone, to_user_timezone
from sqlalchemy import text

from portal.extensions import db
from portal.models import SessionRating, TreatmentSession

# A session time a little ahead of the server's clock (a practitioner's watch) is accepted.
FUTURE_TOLERANCE = timedelta(minutes=10)
# PSFS activities are asked again every third session (SPEC 4.2).
PSFS_EVERY = 3
# "consent_withdrawn" stands in for "consent" when the patient's last word was a withdrawal,
# and "consent_rediscussion" for "consent_discussion" when they signed again after one.
GATES = ("clearance", "consent", "consent_withdrawn", "consent_discussion",
         "consent_rediscussion", "red_flags")
# The checks no reason to go ahead passes: a patient who withdrew their consent to treatment
# is not treated until they give it again (SPEC 11.1; the right to refuse or withdraw at any
# time, College of Physiotherapists of Alberta, Consent Guide, CLINICAL.md).
# Signing again after a withdrawal needs its new discussion recorded too, with no reason
# passing it (the issue of SPEC 11.1: "until a new consent and discussion").
NOT_OVERRIDABLE = frozenset({"consent_withdrawn", "consent_rediscussion"})
# An override of the gate needs a reason of at least this many characters, spaces at either
# end aside (SPEC 4.1): a word or two says nothing a reviewer can check later.
OVERRIDE_REASON_MIN = 15


class TreatmentError(Exception):
    """A refusal to show to the user; ``code`` picks the message (views.error_text)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class GateRefused(TreatmentError):
    """No valid clearance, no current consent or an unreviewed red flag, and no override
    reason given (or one shorter than OVERRIDE_REASON_MIN: ``short``); or a check no reason
    passes (``final``: consent withdrawn, or signed again and not yet discussed)."""

    def __init__(self, missing: list[str], short: bool = False, final: bool = False):
        super().__init__("gate", missing=missing)
        self.missing = missing
        self.short = short
        self.final = final


def override_reason(text: str | None) -> str | None:
    """The override reason as kept (spaces at either end removed), or None when empty."""
    return (text or "").strip() or None


def check_override(missing: list[str], reason: str | None) -> None:
    """Raise GateRefused when the gate is shut (``missing``) and ``reason`` is no reason,
    or when it is shut by a check no reason passes (NOT_OVERRIDABLE), whatever the reason."""
    if NOT_OVERRIDABLE.intersection(missing):
        raise GateRefused(missing, final=True)
    if missing and (reason is None or len(reason) < OVERRIDE_REASON_MIN):
        raise GateRefused(missing, short=reason is not None)



# --- time -------------------------------------------------------------------------------

# The clinic's time zone is the one Flask-Babel shows times in (its timezone selector is the
# clinic's setting), with the same time-zone rules: a time typed in a form must come back
# on the page as typed. (Flask-Babel uses pytz, whose rules can be newer than the system's
# zoneinfo: British Columbia's permanent daylight time from 2026 is one such difference.)

def clinic_zone():
    return get_timezone()


def to_clinic(moment: datetime) -> datetime:
    """``moment`` on the clinic's wall clock (aware)."""
    return to_user_timezone(moment)


def clinic_date(moment: datetime) -> date:
    return to_clinic(moment).date()


def clinic_datetime(day: date, time_of_day) -> datetime:
    """A date and time on the clinic's wall clock, as an aware UTC datetime."""
    local = clinic_zone().localize(datetime.combine(day, time_of_day))
    return local.astimezone(UTC)


class WallClockGap(ValueError):
    """A date and time the clinic's clock never showed (``kind`` "nonexistent": the hour
    skipped when the clocks go forward) or showed twice ("ambiguous": the hour repeated when
    they go back)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


# Which of the two times a repeated wall-clock time was (the hour the clocks go back shows
# twice): the first (still daylight time) or the second (standard time again).
OCCURRENCES = ("first", "second")


def _same_minute(moment: datetime, wall: datetime) -> bool:
    return to_clinic(moment).replace(tzinfo=None, second=0, microsecond=0) == wall


def is_repeated(day: date, time_of_day) -> bool:
    """Whether the clinic's clock showed this date and time twice."""
    try:
        clinic_zone().localize(datetime.combine(day, time_of_day), is_dst=None)
    except pytz.AmbiguousTimeError:
        return True
    except pytz.NonExistentTimeError:
        return False
    return False


def _occurrence(wall: datetime, which: str) -> datetime:
    both = sorted({clinic_zone().localize(wall, is_dst=dst).astimezone(UTC)
                   for dst in (True, False)})
    return both[0] if which == "first" else both[-1]


def clinic_datetime_strict(day: date, time_of_day, keep: datetime | None = None,
                           occurrence: str | None = None) -> datetime:
    """As clinic_datetime, but a time skipped or repeated by a change of clock raises
    WallClockGap instead of being moved silently to the hour after (a register's entry
    must say when something happened, not a guess at it).

    ``keep``, a moment already known (the one stored, or the "now" a form was filled with),
    is returned unchanged when the date and time typed are its minute on the clinic's wall
    clock: a time shown and sent back as it was is the same moment, repeated hour or not.
    ``occurrence`` ("first" or "second", OCCURRENCES) says which of a repeated time was
    meant; it changes nothing for a time the clock showed once."""
    wall = datetime.combine(day, time_of_day).replace(second=0, microsecond=0)
    try:
        local = clinic_zone().localize(wall, is_dst=None)
    except pytz.NonExistentTimeError as exc:
        raise WallClockGap("nonexistent") from exc
    except pytz.AmbiguousTimeError as exc:
        if occurrence in OCCURRENCES:
            return _occurrence(wall, occurrence)
        if keep is not None and _same_minute(keep, wall):
            return keep
        raise WallClockGap("ambiguous") from exc
    if keep is not None and _same_minute(keep, wall):
        return keep
    return local.astimezone(UTC)


def take_write_lock() -> None:
    """On SQLite, take the database's write lock before reading what a change depends on:
    a concurrent request then waits here (busy timeout) and reads the result of the first
    one, instead of failing half-way. PostgreSQL needs nothing: the unique constraints and
    row locks decide there."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("UPDATE treatment_sessions SET id = id WHERE 1 = 0"))


def config_delta(name: str) -> timedelta:
    return current_app.config[name]


# The rating's moments (SPEC 4.2). Its first question is the average pain over the past 24
# hours, IMMPACT's core measure of pain intensity (Dworkin et al., Pain 2005;113:9-19); the
# 2-point / 30% rule was derived from such averages (Farrar et al., Pain 2001;94:149-158),
# not from a rating given minutes after needling, while the soreness that follows needling
# lasts up to about 72 hours (Martin-Pintado-Zugasti et al., J Bodyw Mov Ther 2018). So it
# opens RATING_OPENS_AFTER (a day) after the session, and closes RATING_WINDOW after the
# session itself. Sessions stored before keep their ``rating_opens_at``.

def rating_opens_for(treated_at: datetime, recorded_at: datetime) -> datetime:
    """RATING_OPENS_AFTER after the session, or when it is recorded if that is later."""
    return max(treated_at + config_delta("RATING_OPENS_AFTER"), recorded_at)


def reminder_due_at(session: TreatmentSession) -> datetime:
    return session.rating_opens_at + config_delta("RATING_REMINDER_AFTER")


def closes_at(session: TreatmentSession) -> datetime:
    return session.treated_at + config_delta("RATING_WINDOW")


def editable_until(rating: SessionRating) -> datetime:
    return rating.created_at + config_delta("RATING_EDIT_WINDOW")
