"""What each worklist section says about itself (SPEC 5.1): its title, empty message and
colour (``LOOKS``), its lines (``Item``) and, for the page's self-refresh, a version of
what it shows (``Section.version``).

The sections, in this order:

1. ``red-flags``, the whole clinic's whatever "my patients" shows: first the safety reports
   after a session that no one has acknowledged (a "yes" to the safety check, or a problem
   the patient reported: the warning signs of a pneumothorax, CLINICAL.md;
   portal/treatment/safety.py), then the intakes with red flags not yet reviewed. One
   section, because both mean "see this patient before anything else"; the safety reports
   lead because they are acute. An intake with red flags is listed here only, not again
   under new intakes, so that each thing to do appears once.
1b. ``consent-withdrawn``: withdrawals of consent no practitioner has acknowledged yet
   (portal/clinic/worklist/withdrawals.py); no IMS until the patient signs again.
2. ``new-intakes``: intakes sent, not yet reviewed, without a red flag; oldest first.
3. ``clearances-to-review``: one line per patient with a clearance waiting; oldest first.
3b. ``correction-requests``: correction requests not answered yet, the one due first at the
   top, overdue ones marked (portal/clinic/worklist/requests.py).
4. ``worsening``, 5. ``ratings-overdue``, 6. ``improved``: from the stored outcome of each
   patient in treatment (portal/outcomes.py holds the thresholds; a responder with the
   worsening alert is listed under both) and the rating window
   (portal/treatment/services.py). Overdue ratings are counted and listed by session (a
   patient with two sessions unrated has two lines).
6b. ``follow-ups-answered`` and ``follow-ups-overdue``: follow-ups after discharge answered
   in the last two weeks (newest first) and those sent and unanswered two weeks after their
   due date (oldest first) (portal/clinic/worklist/followups.py).
7. ``invitations``: patients invited who have not chosen a password yet; newest first.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.models import Patient


@dataclass(frozen=True)
class Look:
    title: Any
    empty: Any
    tone: str  # the count badge's colour when there is something
    # Where "and N more" can lead: the patient list filtered by this status (None: nowhere).
    list_status: str | None = None
    list_label: Any = None


LOOKS = {
    "red-flags": Look(_l("Red flags"), _l("No red flags waiting."), "danger"),
    "consent-withdrawn": Look(_l("Consent withdrawn"),
                              _l("No withdrawal of consent waiting."), "danger"),
    "new-intakes": Look(_l("New intakes to review"), _l("No new intakes to review."),
                        "neutral", "intake_submitted",
                        _l("Patients whose intake is submitted")),
    "clearances-to-review": Look(_l("Clearances to review"),
                                 _l("No clearances are waiting for review."), "neutral"),
    "correction-requests": Look(_l("Correction requests"),
                                _l("No correction request is waiting."), "warn"),
    "worsening": Look(_l("Patients worsening"), _l("No patient is worsening."), "danger",
                      "in_treatment", _l("Patients in treatment")),
    "ratings-overdue": Look(_l("Ratings overdue"), _l("No rating is overdue."), "warn",
                            "in_treatment", _l("Patients in treatment")),
    "improved": Look(_l("Meaningful improvement reached"),
                     _l("No patient has reached a meaningful improvement yet."), "ok",
                     "in_treatment", _l("Patients in treatment")),
    "follow-ups-answered": Look(_l("Follow-ups answered"),
                                _l("No follow-up answered in the last two weeks."), "ok",
                                "discharged", _l("Patients discharged")),
    "follow-ups-overdue": Look(_l("Follow-ups overdue"),
                               _l("No follow-up is overdue."), "warn"),
    "invitations": Look(_l("Invitations not yet accepted"),
                        _l("Every invited patient has joined."), "neutral", "invited",
                        _l("Patients invited")),
}


@dataclass
class Item:
    """One line: ``kind`` says what it is and which tab of the chart it opens; ``row`` is the
    safety report, intake, outcome, session or invitation behind it."""
    # safety, intake_flag, withdrawal, intake, clearance, worsening, overdue, improved,
    # invitation
    kind: str
    patient: Patient
    row: Any = None
    files: int = 0  # clearances: how many files wait
    since: datetime | None = None  # clearances: the oldest upload
    amended: bool = False  # intakes: corrected after sending
    expired: bool = False  # invitations: the link no longer works; corrections: overdue

    def drawn(self) -> tuple:
        """What the line shows, for the section's version."""
        row = self.row
        if self.kind == "safety":
            shown: tuple = (row.id, row.created_at, tuple(row.symptoms), row.kind)
        elif self.kind in ("intake", "intake_flag"):
            shown = (row.id, row.submitted_at, row.red_flag_count, row.precaution_count,
                     self.amended)
        elif self.kind == "clearance":
            shown = (self.files, self.since)
        elif self.kind == "overdue":
            shown = (row.id, row.treated_at, row.reminder_sent_at is not None)
        elif self.kind == "withdrawal":
            shown = (row.id, row.withdrawn_at)
        elif self.kind == "invitation":
            shown = (row.id, row.created_at, self.expired, row.user.email)
        elif self.kind in ("follow_up", "follow_up_overdue"):
            shown = (row.id, row.status, row.answered_at, row.pain_average, row.kept,
                     row.reminded_at)
        elif self.kind == "correction":
            shown = (row.id, row.due, self.expired)
        else:  # worsening, improved
            shown = (row.baseline, row.latest_nprs)
        practitioner = self.patient.practitioner
        return (self.kind, self.patient.id, self.patient.user.name,
                practitioner.name if practitioner else None, *shown)


@dataclass
class Section:
    key: str
    count: int
    items: list[Item]

    @property
    def look(self) -> Look:
        return LOOKS[self.key]

    @property
    def more(self) -> int:
        return max(self.count - len(self.items), 0)

    @property
    def version(self) -> str:
        raw = repr((self.key, self.count, [item.drawn() for item in self.items]))
        return hashlib.blake2s(raw.encode(), digest_size=8).hexdigest()
