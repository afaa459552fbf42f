"""The migration that adds the stored outcome points fills them for the ratings already
there (SPEC 5.4, 8.6), by SQL window functions that must give exactly what
portal.outcomes.course_points gives: every baseline (none, 0-10) with every pair of
ratings, around an unrated session, a cancelled rated one and two sessions at the same
minute."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal import outcomes
from portal.extensions import db
from tests.test_migrations import _flask_db, empty_database, migrating_app, naive  # noqa: F401

BEFORE = "c4d8e2a6f1b9"
WHEN = datetime(2026, 1, 5, 10, 30)


def _table(name: str, *columns: str, json: tuple[str, ...] = ()):
    return sa.table(name, *(sa.column(c) for c in columns),
                    *(sa.column(c, sa.JSON) for c in json))


users = _table("users", "id", "public_id", "email", "name", "role", "active", "failed_logins",
               "created_at")
patients = _table("patients", "id", "public_id", "user_id", "status", "created_at",
                  "last_activity_at", "search_text")
sessions = _table("treatment_sessions", "id", "public_id", "patient_id", "recorded_by_id",
                  "treated_at", "status", "cancelled_at", "created_at", "updated_at",
                  "rating_opens_at", json=("regions", "corrections"))
ratings = _table("session_ratings", "id", "public_id", "session_id", "patient_id", "pain_now",
                 "pgic", "soreness", "soreness_duration", "breathing_alert", "created_at",
                 "updated_at")
treatment_outcomes = _table("treatment_outcomes", "patient_id", "baseline", "latest_nprs",
                            "rated_count", "status", "updated_at")


def _clinic():
    """(baseline, [(minutes after WHEN, pain or None, cancelled)]) per patient, in the
    order the rows are inserted (not always the order of the sessions)."""
    cases = []
    for baseline, (first, second) in itertools.product(
            [None, *range(11)], itertools.product(range(11), repeat=2)):
        i = len(cases)
        course = [(0, first, False), (60 * 24, None, False), (60 * 48, second, False)]
        if i % 3 == 0:  # a rated session, cancelled, between the two
            course.insert(2, (60 * 36, 10 - first, True))
        if i % 5 == 0:  # the last session inserted first: numbers follow time, not ids
            course = course[-1:] + course[:-1]
        if i % 7 == 0:  # a third rating at the same minute as the second
            course.append((60 * 48, first, False))
        cases.append((baseline, course))
    return cases


def _expected(baseline, course, session_ids):
    """course_points for a course; cancelled sessions do not count, equal times go by id."""
    counted = sorted((minutes, sid, pain) for (minutes, pain, cancelled), sid
                     in zip(course, session_ids) if not cancelled)
    rated, times = [], []
    for number, (minutes, _sid, pain) in enumerate(counted, start=1):
        if pain is not None:
            rated.append((number, pain))
            times.append(minutes)
    points = outcomes.course_points(baseline, rated)
    return [(p.number, p.pain, p.previous, p.change, p.status, p.worsening, p.first_improved,
             p.rated,
             times[i], times[i + 1] if i + 1 < len(times) else None)
            for i, p in enumerate(points)]


def test_existing_ratings_get_their_points(migrating_app):
    _flask_db(migrating_app, "upgrade", BEFORE)
    cases = _clinic()
    expected = {}
    with migrating_app.app_context(), db.engine.begin() as conn:
        conn.execute(users.insert(), [{"id": 1, "public_id": "u1", "email": "dr@example.org",
                                       "name": "Dr", "role": "practitioner", "active": True,
                                       "failed_logins": 0, "created_at": WHEN}])
        user_rows, patient_rows, session_rows, rating_rows, outcome_rows = [], [], [], [], []
        sid = 0
        for n, (baseline, course) in enumerate(cases, start=2):
            user_rows.append({"id": n, "public_id": f"u{n}", "email": f"p{n}@example.org",
                              "name": f"P {n}", "role": "patient", "active": True,
                              "failed_logins": 0, "created_at": WHEN})
            patient_rows.append({"id": n, "public_id": f"p{n}", "user_id": n,
                                 "status": "in_treatment", "created_at": WHEN,
                                 "last_activity_at": WHEN, "search_text": f"p {n}"})
            outcome_rows.append({"patient_id": n, "baseline": baseline, "latest_nprs": None,
                                 "rated_count": 0, "status": "unknown", "updated_at": WHEN})
            ids = []
            for minutes, pain, cancelled in course:
                sid += 1
                ids.append(sid)
                at = WHEN + timedelta(minutes=minutes)
                session_rows.append({
                    "id": sid, "public_id": f"s{sid}", "patient_id": n, "recorded_by_id": 1,
                    "treated_at": at,
                    "status": "cancelled" if cancelled else "recorded",
                    "cancelled_at": at if cancelled else None, "created_at": at,
                    "updated_at": at, "rating_opens_at": at, "regions": ["back.low_back.right"],
                    "corrections": []})
                if pain is not None:
                    rating_rows.append({
                        "id": sid, "public_id": f"r{sid}", "session_id": sid, "patient_id": n,
                        "pain_now": pain, "pgic": 0, "soreness": 2,
                        "soreness_duration": "under_day", "breathing_alert": False,
                        "created_at": at, "updated_at": at})
            expected[n] = _expected(baseline, course, ids)
        for table, rows in ((users, user_rows), (patients, patient_rows),
                            (treatment_outcomes, outcome_rows), (sessions, session_rows),
                            (ratings, rating_rows)):
            conn.execute(table.insert(), rows)
    with migrating_app.app_context():
        db.engine.dispose()

    _flask_db(migrating_app, "upgrade")
    with migrating_app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.patient_id, p.number, p.pain, p.previous, p.change, p.status, "
            "p.worsening, p.first_improved, p.rated, p.session_at, p.next_at, s.treated_at, "
            "n.treated_at "
            "FROM outcome_points p JOIN session_ratings r ON r.id = p.rating_id "
            "JOIN treatment_sessions s ON s.id = r.session_id "
            "LEFT JOIN treatment_sessions n ON n.id = ("
            "  SELECT r2.session_id FROM outcome_points p2 "
            "  JOIN session_ratings r2 ON r2.id = p2.rating_id "
            "  WHERE p2.patient_id = p.patient_id AND p2.number > p.number "
            "  ORDER BY p2.number LIMIT 1) "
            "ORDER BY p.patient_id, p.number")).all()
        stored = {row.patient_id: (row.status, bool(row.worsening)) for row in conn.execute(
            sa.text("SELECT patient_id, status, worsening FROM treatment_outcomes"))}
        db.engine.dispose()
    got: dict[int, list] = {n: [] for n in expected}
    for (patient_id, number, pain, previous, change, status, worsening, first, rated,
         session_at, next_at, treated_at, next_treated_at) in rows:
        # session_at and next_at are the times of this session and of the next rated one.
        assert session_at == treated_at and next_at == next_treated_at
        minutes = int((naive(treated_at) - WHEN).total_seconds() // 60)
        later = (int((naive(next_treated_at) - WHEN).total_seconds() // 60)
                 if next_treated_at is not None else None)
        got[patient_id].append((number, pain, previous, change, status, bool(worsening),
                                first, rated, minutes, later))
    assert got == expected
    # Each patient's outcome is their current point's: status and worsening alert apart
    # (a responder 2 points up on the last rating stays "improved", with the alert).
    assert stored == {n: points[-1][4:6] for n, points in expected.items()}
    assert ("improved", True) in stored.values()
    assert len(rows) == sum(len(v) for v in expected.values()) > 2 * len(cases)

