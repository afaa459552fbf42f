"""Dates and times in Canadian forms, in the clinic's time zone, and the zone named after its
city (portal.formats): a Canadian clinic does not write 12/5/26, nor "PST"."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import render_template_string
from flask_babel import force_locale

from portal import formats
from portal.clinic_settings import current_settings
from portal.extensions import db as _db
from tests.factories import make_admin

# 22:30 UTC on 2026-12-05 is 15:30 in Vancouver (UTC-7 all year from November 2026) and
# 17:30 in Toronto; 06:30 UTC on the 6th is still the 5th in Vancouver.
EVENING = datetime(2026, 12, 5, 22, 30, tzinfo=UTC)
NEXT_MORNING_UTC = datetime(2026, 12, 6, 6, 30, tzinfo=UTC)


@pytest.fixture
def vancouver(app, db):
    current_settings().timezone = "America/Vancouver"
    _db.session.commit()


def _render(source: str, locale: str, **context) -> str:
    """Babel's no-break spaces (which keep "3:30 p.m." on one line) read as spaces here."""
    with force_locale(locale):
        return _spaces(render_template_string(source, **context))


def _spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", {"short": "2026-12-05", "medium": "Dec 5, 2026", "long": "December 5, 2026",
            "full": "Saturday, December 5, 2026", "time": "3:30 p.m.",
            "datetime": "Dec 5, 2026, 3:30 p.m.", "short_datetime": "2026-12-05, 3:30 p.m.",
            "long_datetime": "December 5, 2026, 3:30 p.m."}),
    ("fr_CA", {"short": "2026-12-05", "medium": "5 déc. 2026", "long": "5 décembre 2026",
               "full": "samedi 5 décembre 2026", "time": "15 h 30",
               "datetime": "5 déc. 2026, 15 h 30", "short_datetime": "2026-12-05 15 h 30",
               "long_datetime": "5 décembre 2026, 15 h 30"}),
])
def test_templates_write_canadian_dates_in_the_clinic_zone(app, vancouver, locale, expected):
    source = ("{{ d|dateformat('short') }}|{{ d|dateformat('medium') }}|"
              "{{ d|dateformat('long') }}|{{ d|dateformat('full') }}|{{ d|timeformat('short') }}|"
              "{{ d|datetimeformat }}|{{ d|datetimeformat('short') }}|"
              "{{ d|datetimeformat('long') }}")
    with app.test_request_context():
        shown = _render(source, locale, d=EVENING).split("|")
    assert shown == [expected[key] for key in ("short", "medium", "long", "full", "time",
                                                "datetime", "short_datetime",
                                                "long_datetime")]


def test_no_zone_abbreviation_and_dates_are_the_clinic_day(app, vancouver):
    with app.test_request_context():
        for locale in ("en", "fr_CA"):
            with force_locale(locale):
                for fmt in ("short", "medium", "long", "full"):
                    text = formats.format_datetime(EVENING, fmt) + formats.format_time(
                        EVENING, fmt)
                    for abbreviation in ("PST", "PDT", "MST", "HNP", "HAP", "UTC", "Pacific"):
                        assert abbreviation not in text, (locale, fmt, text)
                # The date of a datetime is the clinic's day, not UTC's.
                assert formats.format_date(NEXT_MORNING_UTC, "short") == "2026-12-05"
                assert formats.format_date(date(2026, 12, 6), "short") == "2026-12-06"


def test_the_zone_is_named_after_its_city(app, vancouver):
    with app.test_request_context():
        with force_locale("en"):
            assert formats.zone_name() == "Vancouver time"
            assert formats.zone_name("America/Edmonton") == "Edmonton time"
            assert formats.zone_name("UTC") == "UTC"
        with force_locale("fr_CA"):
            assert formats.zone_name() == "heure de Vancouver"
            assert formats.zone_name("America/Edmonton") == "heure d'Edmonton"


@pytest.mark.parametrize(("locale", "said"), [("en", "(Vancouver time)"),
                                                ("fr_CA", "(heure de Vancouver)")])
def test_pages_name_the_zone_not_its_identifier(auth, client, vancouver, locale, said):
    """The audit search's hint said "(America/Vancouver)"."""
    admin = make_admin(locale=locale)
    auth.login(admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert said in page
    assert "America/Vancouver" not in page.replace('value="America/Vancouver"', "")


def test_a_sentence_ending_with_a_time_takes_one_period(app, vancouver):
    """ "Please answer by Dec 5, 2026, 3:30 p.m." — never "p.m.." (templates and messages);
    a time in the middle of a sentence keeps its own periods."""
    with app.test_request_context():
        source = ('{{ _("Please answer by %(when)s.", when=at|datetimeformat) }}|'
                  '{{ _("Rating opens %(opens)s and stays open until %(closes)s.", '
                  'opens=at|datetimeformat, closes=at|dateformat) }}')
        english = _render(source, "en", at=EVENING)
        french = _render(source, "fr_CA", at=EVENING)
    assert english.split("|") == [
        "Please answer by Dec 5, 2026, 3:30 p.m.",
        "Rating opens Dec 5, 2026, 3:30 p.m. and stays open until Dec 5, 2026."]
    assert french.split("|")[0].endswith("15 h 30.")
    assert formats.end_sentence("Reported 9:00 a.m..") == "Reported 9:00 a.m."
