"""Words about sessions and outcomes, in the reader's language."""
from __future__ import annotations

from datetime import datetime

from flask_babel import format_decimal, format_percent, ngettext
from flask_babel import gettext as _

from portal import outcomes
from portal.formats import format_date, format_time

MINUS = "\u2212"


def _percent(value: float) -> str:
    return format_percent(abs(value) / 100, "#,##0%")


def change_sentence(change: outcomes.NprsChange) -> str:
    """One plain sentence about the pain now compared with the start (SPEC 4.3), e.g.
    "Your pain is 3 points lower than when you started (−43%)."."""
    if change.latest is None:
        return _("Your chart will appear here once you have rated a session.")
    if change.baseline is None:
        return _("Your latest pain rating is %(n)d out of 10.", n=change.latest)
    points = change.points
    assert points is not None  # the baseline and the latest rating are both known
    if points == 0:
        return _("Your pain is the same as when you started (%(n)d out of 10).", n=change.latest)
    percent = change.percent
    if points < 0:
        assert percent is not None  # less pain than the baseline: the baseline is above 0
        return ngettext("Your pain is %(num)d point lower than when you started (%(percent)s).",
                        "Your pain is %(num)d points lower than when you started "
                        "(%(percent)s).", -points, percent=MINUS + _percent(percent))
    # Higher than at the start: said calmly, with what happens next (the numbers follow in
    # change_detail), never as a verdict on the patient.
    return _("Your pain has been higher lately. Your practitioner will look at this with you.")


def change_detail(change: outcomes.NprsChange) -> str | None:
    """The numbers under a calm headline (change_sentence) when the pain is higher than at
    the start, e.g. "Your latest rating is 5 out of 10; it was 4 when you started."."""
    if change.latest is None or change.baseline is None or not change.points \
            or change.points < 0:
        return None
    return _("Your latest rating is %(latest)d out of 10; it was %(start)d when you started.",
             latest=change.latest, start=change.baseline)


def responder_alert(change: outcomes.NprsChange) -> str | None:
    """For a responder with the worsening alert (portal.outcomes: the two stand side by
    side), one sentence that says both, e.g. "Improved since starting; 2 points worse than
    last time."; None otherwise."""
    rise = change.points_since_previous
    if not (change.responder and change.worsening) or rise is None:
        return None
    return ngettext("Improved since starting; %(num)d point worse than last time.",
                    "Improved since starting; %(num)d points worse than last time.", rise)


def status_label(status: str) -> str:
    return {outcomes.IMPROVED: _("Meaningful improvement"),
            outcomes.UNCHANGED: _("No meaningful change"),
            outcomes.WORSE: _("Worsening"),
            outcomes.UNKNOWN: _("Not enough ratings yet")}[status]


def status_badge_kind(status: str) -> str:
    return {outcomes.IMPROVED: "ok", outcomes.WORSE: "danger"}.get(status, "neutral")


def decimal(value: float | None) -> str:
    return "" if value is None else format_decimal(value, "#,##0.#")


def moment(value: datetime) -> str:
    """A date and time in the clinic's time zone, to the minute (as treatment/_when.html)."""
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}"


def score_question(code: str) -> str:
    """Which question a rating's follow-up score answered (SessionRating.score_question):
    ratings stored before the average over 24 hours was asked keep their meaning."""
    if code == "average_24h":
        return _("Average pain over the past 24 hours")
    return _("Pain at the time of rating")


def day_and_time(value: datetime) -> str:
    """The same with its weekday (treatment/_when.html's day_and_time)."""
    return f"{format_date(value, 'full')}, {format_time(value, 'short')}"


def when(iso: str) -> str:
    """A stored ISO time (UTC) in the clinic's time zone."""
    try:
        return moment(datetime.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def fields(names) -> str:
    labels = {"treated_at": _("date and time"), "regions": _("regions"),
              "nprs_before": _("pain before needling"), "notes": _("private notes"),
              "override_reason": _("reason to go ahead")}
    return ", ".join(labels.get(name, name) for name in names)


def gates(missing) -> str:
    labels = {"clearance": _("no valid physician's clearance"),
              "consent": _("no consent to the current version signed (and not withdrawn) "
                           "before the session"),
              "consent_withdrawn": _("consent withdrawn by the patient, and not signed "
                                     "again since"),
              "consent_discussion": _("no consent discussion recorded by the session's time"),
              "consent_rediscussion": _("consent signed again after a withdrawal, and no new "
                                        "consent discussion recorded by the session's time"),
              "red_flags": _("red flags no practitioner had reviewed or acknowledged by the "
                             "session's time")}
    return _(" and ").join(labels.get(name, name) for name in missing or [])
