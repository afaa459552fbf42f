"""Dates, times and the clinic's time zone in Canadian forms (SPEC 8.1, 8.6).

The English catalogue is "en", but a Canadian clinic writes its dates the Canadian way:
formatting uses Babel's en_CA data for English ("Dec 5, 2026, 2:30 p.m.", short dates
2026-12-05) and fr_CA for French ("5 déc. 2026, 14 h 30"). Datetimes are shown in the clinic's
time zone (Flask-Babel's timezone selector), dates of a datetime included. A date and time
never carries a zone abbreviation ("PST" is wrong half the year where a province changes its
clocks, or stops changing them): where the zone must be said, ``zone_name()`` names it after
its city ("Vancouver time", "heure de Vancouver").

These replace Flask-Babel's ``dateformat``, ``datetimeformat`` and ``timeformat`` filters
(``install``), so templates keep their filters; Python code imports them from here.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time

from babel import Locale, dates
from flask import Flask
from flask_babel import get_locale, get_timezone, pgettext
from flask_babel import gettext as _
from jinja2 import pass_context
from markupsafe import Markup

# The formatting locale of each catalogue whose own data is not Canadian.
CANADIAN = {"en": "en_CA"}
NAMED = ("short", "medium", "long", "full")
VOWELS = tuple("AEIOUYÉÈÊÎÔÂH")


def locale() -> Locale:
    """The locale whose data formats dates: the page's language, in its Canadian form."""
    current = str(get_locale() or "en")
    return Locale.parse(CANADIAN.get(current, current))


def _local(value: datetime) -> datetime:
    zone = get_timezone()
    if value.tzinfo is None:  # stored naive means UTC (SQLite returns naive datetimes)
        value = value.replace(tzinfo=dates.UTC)
    return zone.normalize(value.astimezone(zone))


def format_date(value: date | datetime, format: str = "medium") -> str:
    """The date of ``value`` (a datetime's date in the clinic's time zone)."""
    if isinstance(value, datetime):
        value = _local(value).date()
    return dates.format_date(value, format, locale=locale())


def format_time(value: datetime | time, format: str = "short") -> str:
    """The time of day, to the minute by default, without a zone abbreviation."""
    if isinstance(value, datetime):
        value = _local(value).timetz().replace(tzinfo=None)
    if format in ("long", "full"):  # these add the zone's abbreviation or name
        format = "short"
    return dates.format_time(value, format, locale=locale())


def format_datetime(value: datetime, format: str = "medium") -> str:
    """Date and time to the minute ("Dec 5, 2026, 2:30 p.m."); a named format chooses the
    date's length. Another pattern is Babel's, in the clinic's time zone."""
    if format not in NAMED:
        return dates.format_datetime(_local(value), format, locale=locale())
    here = locale()
    pattern = str(here.datetime_formats.get(format, "{1}, {0}"))
    day = format_date(value, format)
    return pattern.replace("'", "").replace("{1}", day).replace("{0}", format_time(value))


def zone_name(zone: str | None = None) -> str:
    """The clinic's time zone named after its city, in the page's language ("Vancouver
    time", "heure de Vancouver"); "UTC" for UTC."""
    key = zone or str(get_timezone())
    city = dates.get_timezone_location(key, locale=locale(), return_city=True)
    if city in ("UTC", "GMT") or key.upper() in ("UTC", "ETC/UTC", "GMT"):
        return "UTC"
    if city.upper().startswith(VOWELS):
        # French elides before a vowel ("heure d'Edmonton"); English reads the same.
        return pgettext("city starting with a vowel", "%(city)s time", city=city)
    return _("%(city)s time", city=city)


# Canadian English writes times "11:00 a.m."; a sentence that ends with one takes no second
# period ("Please answer by Dec 10, 2026, 11:00 a.m."; Canadian Press style).
_DOUBLE_STOP = re.compile(r"(\b[ap]\.m\.)\.")


def end_sentence(text: str) -> str:
    """``text`` without the period a sentence adds after a time that already ends in one."""
    if "m.." not in text:
        return text
    fixed = _DOUBLE_STOP.sub(r"\1", str(text))
    return Markup(fixed) if hasattr(text, "__html__") else fixed


def install(app: Flask) -> None:
    """Replace Flask-Babel's date filters (call after Babel's init_app)."""
    app.jinja_env.filters.update(dateformat=format_date, datetimeformat=format_datetime,
                                 timeformat=format_time)
    app.jinja_env.globals["clinic_zone"] = zone_name
    # The templates' _() and gettext(): the sentence is finished after its values are in.
    for name in ("_", "gettext"):
        translate = app.jinja_env.globals.get(name)
        if translate is not None:
            app.jinja_env.globals[name] = _finishing(translate)


def _finishing(translate):
    @pass_context
    def finished(context, message, **variables):
        return end_sentence(context.call(translate, message, **variables))
    return finished
