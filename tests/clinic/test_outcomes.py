"""Clinic outcomes (SPEC 5.4, 10 /clinic/outcomes): responder rate, mean NPRS change by
session number, median sessions until meaningful improvement, filters by practitioner and
period, the CSV export, and a constant number of SQL statements (SPEC 8.5).

The numbers are checked against a small clinic worked out by hand (COURSES below), and the
stored outcome points they add up against a fresh computation after every kind of change."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from portal import csvexport, outcomes
from portal.clinic.outcomes import services as outcome_stats
from portal.models import (
    AuditEvent,
    Patient,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.treatment import services
from tests.factories import make_follow_up, make_patient, make_practitioner
from tests.markup import parse
from tests.queries import grow_to, queries_for

REGION = "back.low_back.right"
HX = {"HX-Request": "true"}

# name -> (practitioner "A"/"B", baseline, [(day, pain or None, cancelled)]). Sessions at
# 18:00 UTC, the middle of the clinic's day (America/Vancouver).
COURSES = {
    # 6 -> 5, 4, 3: session 2 is 2 points and 33% down (improved); a cancelled session
    # (rated 10) counts for nothing and takes no number.
    "P1": ("A", 6, [(date(2025, 5, 1), 5, False), (date(2025, 5, 5), 10, True),
                    (date(2025, 5, 8), 4, False), (date(2025, 5, 15), 3, False)]),
    # 8 -> 8, 7, 6, 5: 2 points from 8 is only 25%; 3 points (37.5%) at session 4.
    "P2": ("A", 8, [(date(2025, 5, 1), 8, False), (date(2025, 5, 8), 7, False),
                    (date(2025, 5, 15), 6, False), (date(2025, 5, 22), 5, False)]),
    # 5 -> 5, 7: 2 points above the start: worse.
    "P3": ("B", 5, [(date(2025, 3, 1), 5, False), (date(2025, 3, 8), 7, False)]),
    # 4 -> 3, 4: unchanged.
    "P4": ("B", 4, [(date(2025, 3, 1), 3, False), (date(2025, 3, 8), 4, False)]),
    # No starting level: unknown.
    "P5": ("A", None, [(date(2025, 5, 1), 6, False)]),
    # 7 -> 4, 6: improved at session 1, then up 2 between the last two: worse.
    "P6": ("A", 7, [(date(2025, 5, 1), 4, False), (date(2025, 5, 8), 6, False)]),
    # A session never rated: not counted at all.
    "P7": ("B", 6, [(date(2025, 5, 1), None, False)]),
}


def course(db, practitioner: User, baseline: int | None, sessions, name: str) -> Patient:
    """A patient and their sessions straight into the tables (fast enough for hundreds),
    with the outcome row kept by the treatment services."""
    now = datetime(2025, 6, 1, tzinfo=UTC)
    user = User(email=f"{name.lower()}@example.org", name=name, role="patient",
                created_at=now)
    patient = Patient(user=user, practitioner_id=practitioner.id, status="in_treatment",
                      created_at=now)
    db.session.add(patient)
    db.session.flush()
    for day, pain, cancelled in sessions:
        when = datetime.combine(day, time(18), tzinfo=UTC)
        session = TreatmentSession(
            patient_id=patient.id, recorded_by_id=practitioner.id, treated_at=when,
            regions=[REGION], status="cancelled" if cancelled else "recorded",
            cancelled_at=when if cancelled else None, corrections=[], created_at=when,
            updated_at=when, rating_opens_at=when)
        db.session.add(session)
        db.session.flush()
        if pain is not None:
            db.session.add(SessionRating(
                session_id=session.id, patient_id=patient.id, pain_now=pain,
                pain_average=pain, score_question="average_24h", pgic=0,
                soreness=2, soreness_duration="under_day", breathing_alert=False,
                created_at=when, updated_at=when))
    db.session.add(TreatmentOutcome(patient_id=patient.id, baseline_override=baseline,
                                    rated_count=0, status="unknown", updated_at=now))
    db.session.flush()
    services.refresh_outcome(patient)
    db.session.commit()
    return patient


@pytest.fixture
def doctors(db):
    return {"A": make_practitioner(name="Dr. Avery Adams"),
            # A name a spreadsheet would run as a formula.
            "B": make_practitioner(name="=2+3 Bailey")}


@pytest.fixture
def clinic(db, doctors):
    return {name: course(db, doctors[who], baseline, sessions, name)
            for name, (who, baseline, sessions) in COURSES.items()}


@pytest.fixture
def staff(client, auth, doctors):
    assert auth.login(doctors["A"]).status_code == 303
    return doctors["A"]


def _report(client, status: int = 200, headers=None, **params):
    response = client.get("/clinic/outcomes", query_string=params, headers=headers or {})
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return parse(response.get_data(as_text=True))


def _figures(doc) -> dict:
    values = [float(e.attrs["data-value"]) for e in doc.find_all(class_="outcome-figures__value")
              if e.attrs.get("data-value") is not None]
    statuses = {s: int(doc.by_id(f"outcome-status-{s}").children[1].attrs["data-value"])
                for s in outcomes.STATUSES}
    rows = {}
    table = doc.by_id("outcomes-change-table")
    for tr in (table.children[-1].children if table else []):
        patients, mean = tr.children[1:]
        rows[int(tr.attrs["data-session"])] = (int(patients.attrs["data-value"]),
                                               round(float(mean.attrs["data-value"]), 3))
    return {"rate": values[0] if values else None,
            "median": values[1] if len(values) > 1 else None,
            "statuses": statuses, "by_session": rows}


def test_median_of_counts():
    assert outcome_stats.median_of_counts({}) is None
    assert outcome_stats.median_of_counts({3: 1}) == 3
    assert outcome_stats.median_of_counts({1: 1, 2: 1, 4: 1}) == 2
    assert outcome_stats.median_of_counts({1: 1, 2: 1}) == 1.5
    assert outcome_stats.median_of_counts({2: 3, 9: 1}) == 2
    assert outcome_stats.median_of_counts({1: 2, 5: 2}) == 3


# --- the report, worked out by hand ---------------------------------------------------------

def test_whole_clinic(client, staff, clinic):
    figures = _figures(_report(client))
    # P1..P6 rated a session; P1 and P2 improved: 2 of 6.
    assert figures["statuses"] == {"improved": 2, "unchanged": 1, "worse": 2, "unknown": 1}
    assert figures["rate"] == pytest.approx(2 / 6)
    # First improving session: P6 at 1, P1 at 2, P2 at 4 -> median 2.
    assert figures["median"] == 2
    # Change from the start (P5 has none): session 1: -1, 0, 0, -1, -3; session 2: -2, -1,
    # +2, 0, -1; session 3: -3, -2; session 4: -3.
    assert figures["by_session"] == {1: (5, -1.0), 2: (5, -0.4), 3: (2, -2.5), 4: (1, -3.0)}


def test_the_stored_outcomes_agree(client, staff, clinic, db):
    stored = dict(db.session.execute(select(TreatmentOutcome.status, TreatmentOutcome.id)
                                     .where(TreatmentOutcome.rated_count > 0)).all())
    result = outcome_stats.compute(outcome_stats.OutcomeFilters())
    by_status = {}
    for status in db.session.scalars(select(TreatmentOutcome.status)
                                     .where(TreatmentOutcome.rated_count > 0)):
        by_status[status] = by_status.get(status, 0) + 1
    assert stored and result.by_status == by_status


def test_filter_by_practitioner(client, staff, clinic, doctors):
    figures = _figures(_report(client, practitioner=doctors["A"].public_id))
    # P1, P2, P5, P6.
    assert figures["statuses"] == {"improved": 2, "unchanged": 0, "worse": 1, "unknown": 1}
    assert figures["rate"] == pytest.approx(0.5)
    assert figures["median"] == 2
    assert figures["by_session"] == {1: (3, round(-4 / 3, 3)), 2: (3, round(-4 / 3, 3)),
                                     3: (2, -2.5), 4: (1, -3.0)}
    figures = _figures(_report(client, practitioner=doctors["B"].public_id))
    assert figures["statuses"] == {"improved": 0, "unchanged": 1, "worse": 1, "unknown": 0}
    assert figures["rate"] == 0 and figures["median"] is None


def test_period_ending_early_takes_each_outcome_as_of_its_end(client, staff, clinic):
    figures = _figures(_report(client, date_to="2025-05-10"))
    # Ratings up to 10 May: P1 5, 4 (improved at 2); P2 8, 7 (unchanged); P6 4, 6 (worse,
    # improved at 1); P3, P4, P5 as before.
    assert figures["statuses"] == {"improved": 1, "unchanged": 2, "worse": 2, "unknown": 1}
    assert figures["median"] == 1.5
    assert figures["by_session"] == {1: (5, -1.0), 2: (5, -0.4)}


def test_period_keeps_session_numbers(client, staff, clinic):
    figures = _figures(_report(client, date_from="2025-05-10", date_to="2025-05-16"))
    # Only P1 and P2 rated a session that week, their third: P1 at 3 (improved since
    # session 2), P2 at 6 (25% down, unchanged).
    assert figures["statuses"] == {"improved": 1, "unchanged": 1, "worse": 0, "unknown": 0}
    assert figures["rate"] == pytest.approx(0.5)
    assert figures["median"] == 2
    assert figures["by_session"] == {3: (2, -2.5)}


def test_period_from_leaves_out_earlier_patients(client, staff, clinic):
    figures = _figures(_report(client, date_from="2025-04-01"))
    assert figures["statuses"] == {"improved": 2, "unchanged": 0, "worse": 1, "unknown": 1}


def test_sessions_past_the_cap_are_pooled(client, staff, doctors, db):
    pains = [(date(2025, 1, 1 + 2 * i), 9 - min(i, 6), False) for i in range(15)]
    course(db, doctors["A"], 9, pains, "Long")
    figures = _figures(_report(client))
    assert sorted(figures["by_session"]) == list(range(1, outcome_stats.SESSION_CAP + 2))
    # Sessions 13, 14 and 15 (each rated 3): one group of three ratings, 6 points down.
    assert figures["by_session"][outcome_stats.SESSION_CAP + 1] == (3, -6.0)
    html = client.get("/clinic/outcomes").get_data(as_text=True)
    assert f">{outcome_stats.SESSION_CAP}+</th>" in html


def test_empty_clinic(client, staff):
    doc = _report(client)
    assert "No patient rated a session with these filters." in "".join(
        e.text for e in doc.find_all("p"))
    assert doc.by_id("outcomes-change-table") is None


def test_chart_is_drawn_from_the_same_numbers(client, staff, clinic):
    html = client.get("/clinic/outcomes").get_data(as_text=True)
    doc = parse(html)
    points = doc.find_all("circle", class_="chart__point")
    assert [(int(p.attrs["data-session"]), float(p.attrs["data-value"])) for p in points] == \
        [(1, -1.0), (2, -0.4), (3, -2.5), (4, -3.0)]
    svg = doc.find_all("svg", class_="chart__svg")[0]
    assert svg.attrs["role"] == "img" and svg.attrs["aria-labelledby"]
    assert doc.find_all("line", class_="chart__baseline")[0].attrs["data-value"] == "0"
    assert "style=" not in html.split("<main", 1)[1]


# --- the filters ----------------------------------------------------------------------------

@pytest.mark.parametrize("params, field, message", [
    ({"date_from": "2025-13-45"}, "date_from", "Not a valid date value"),
    ({"date_to": "yesterday"}, "date_to", "Not a valid date value"),
    ({"date_from": "2025-05-10", "date_to": "2025-05-01"}, "date_to",
     "The end of the period is before its start."),
    ({"date_from": "0001-01-01"}, "date_from", "Enter a date between"),
    ({"practitioner": "no-such-person"}, "practitioner", "Not a valid choice"),
])
def test_bad_filters_are_refused_by_the_field(client, staff, clinic, params, field, message):
    doc = _report(client, status=422, **params)
    error = doc.by_id(f"{field}-error")
    assert error is not None and message in error.text
    assert doc.by_id(field).attrs.get("aria-invalid") == "true"
    assert "Correct the filters to see outcomes." in "".join(e.text for e in doc.find_all("p"))


def test_a_bad_filter_refuses_the_csv_too(client, staff, clinic, db):
    response = client.get("/clinic/outcomes.csv", query_string={"date_from": "2025-02-30"})
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "outcomes.exported")) is None


def test_form_is_a_bookmarkable_get_that_htmx_enhances(client, staff, clinic, doctors):
    doc = _report(client, practitioner=doctors["A"].public_id)
    form = doc.find_all("form", class_="outcome-filters")[0]
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/clinic/outcomes"
    assert form.attrs["data-hx-get"] == "/clinic/outcomes"
    assert form.attrs["data-hx-push-url"] == "true"
    chosen = [o for o in doc.find_all("option") if "selected" in o.attrs]
    assert [o.attrs["value"] for o in chosen] == [doctors["A"].public_id]
    export = [a for a in doc.find_all("a") if "/clinic/outcomes.csv" in a.attrs.get("href", "")]
    assert export and f"practitioner={doctors['A'].public_id}" in export[0].attrs["href"]


def test_htmx_gets_the_fragment(client, staff, clinic):
    response = client.get("/clinic/outcomes", headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert text.lstrip().startswith("<section id=\"outcomes\"") or 'id="outcomes"' in text
    assert "data-focus-on-load" in text
    assert "HX-Request" in response.headers.get("Vary", "")
    bad = client.get("/clinic/outcomes", headers=HX, query_string={"date_to": "nope"})
    assert bad.status_code == 422 and 'id="date_to-error"' in bad.get_data(as_text=True)


def test_navigation_has_outcomes_for_staff_only(client, staff, clinic):
    doc = _report(client)
    link = [a for a in doc.find_all("a") if a.attrs.get("href") == "/clinic/outcomes"]
    assert link and link[0].attrs.get("aria-current") == "page"


def test_patients_do_not_see_outcomes(app, clinic):
    from tests.conftest import Auth, CSRFClient
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(make_patient()).status_code == 303
    assert client.get("/clinic/outcomes").status_code == 404
    assert client.get("/clinic/outcomes.csv").status_code == 404
    assert "/clinic/outcomes" not in client.get("/me/").get_data(as_text=True)


# --- CSV ------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_one_row_per_patient(client, staff, clinic, db):
    response = client.get("/clinic/outcomes.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="outcomes-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv(response)
    assert rows[0] == outcome_stats.csv_header()
    # The follow-up columns come last (none answered here: empty).
    base = len(outcome_stats.CSV_HEADER)
    assert rows[0][base:] == [f"followup_{w}w_{name}" for w in (6, 12)
                              for name in ("pain", "pgic", "responder_at_discharge", "kept",
                                           "answered")]
    assert {cell for row in rows[1:] for cell in row[base:]} == {""}
    rows = [row[:base] for row in rows]
    # Public ids are random: one that starts with "-" is a text cell like any other.
    ids = {name: csvexport.csv_safe(clinic[name].public_id) for name in clinic}
    a, b = "Dr. Avery Adams", "'=2+3 Bailey"
    # The last column: which question the latest follow-up score answered.
    assert [row[-1] for row in rows[1:]] == ["average_24h"] * 6
    assert [row[:-1] for row in rows[1:]] == [
        [ids["P1"], a, "6", "3", "-3", "-50.0", "improved", "no", "3", "3", "2"],
        [ids["P2"], a, "8", "5", "-3", "-37.5", "improved", "no", "4", "4", "4"],
        [ids["P3"], b, "5", "7", "2", "40.0", "worse", "yes", "2", "2", ""],
        [ids["P4"], b, "4", "4", "0", "0.0", "unchanged", "no", "2", "2", ""],
        [ids["P5"], a, "", "6", "", "", "unknown", "no", "1", "1", ""],
        [ids["P6"], a, "7", "6", "-1", "-14.3", "worse", "yes", "2", "2", "1"],
    ]


def test_a_responder_worse_than_last_time_counts_as_a_responder(client, staff, doctors, db):
    """8 -> 2 -> 4 (50% below the baseline, 2 points up on the rating before): a responder
    with the worsening alert, on the page and in the CSV (CLINICAL.md, "Responder")."""
    rebound = course(db, doctors["A"], 8, [(date(2025, 5, 1), 2, False),
                                           (date(2025, 5, 8), 4, False)], "Rebound")
    course(db, doctors["A"], 6, [(date(2025, 5, 1), 6, False)], "Steady")
    doc = _report(client)
    figures = _figures(doc)
    assert figures["statuses"] == {"improved": 1, "unchanged": 1, "worse": 0, "unknown": 0}
    assert figures["rate"] == pytest.approx(1 / 2)
    assert doc.by_id("outcome-responders-alert").attrs["data-value"] == "1"
    rows = _csv(client.get("/clinic/outcomes.csv"))
    assert rows[1][0] == csvexport.csv_safe(rebound.public_id)
    assert rows[1][2:8] == ["8", "4", "-4", "-50.0", "improved", "yes"]
    stored = db.session.scalar(select(TreatmentOutcome)
                               .where(TreatmentOutcome.patient_id == rebound.id))
    assert (stored.status, stored.worsening) == ("improved", True)


def test_csv_follows_the_filters_and_is_audited(client, staff, clinic, doctors, db):
    response = client.get("/clinic/outcomes.csv",
                          query_string={"practitioner": doctors["B"].public_id,
                                        "date_to": "2025-03-05"})
    rows = _csv(response)
    # As of 5 March, P3 and P4 had one rating each.
    assert [r[0] for r in rows[1:]] == [csvexport.csv_safe(clinic[k].public_id)
                                        for k in ("P3", "P4")]
    assert [r[3] for r in rows[1:]] == ["5", "3"]
    assert [r[8] for r in rows[1:]] == ["1", "1"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "outcomes.exported"))
    assert event is not None and event.actor_id == staff.id and event.patient_id is None
    assert doctors["B"].public_id in event.detail and "2025-03-05" in event.detail


# --- SPEC 8.5: the same statements for 10 patients or 200 -----------------------------------

def _many(db, doctors, start: int, n: int) -> None:
    for i in range(start, start + n):
        pains = [(date(2025, 4, 1 + k), max(0, 7 - k - i % 3), False) for k in range(1 + i % 4)]
        patient = course(db, doctors["AB"[i % 2]], 7 if i % 5 else None, pains, f"Many{i}")
        if i % 3 == 0:  # an answered follow-up after discharge (SPEC 12.1), in the period
            make_follow_up(patient, weeks=(6, 12)[i % 2], pain_average=i % 8,
                           improved_at_discharge=bool(i % 4),
                           discharged_at=datetime(2025, 3, 1, tzinfo=UTC),
                           answered_at=datetime(2025, 4, 10, 18, tzinfo=UTC))


@pytest.mark.parametrize("params", [{}, {"date_from": "2025-04-02", "date_to": "2025-04-30"},
                                    {"practitioner": "A"}])
def test_query_count_does_not_grow_with_patients(client, staff, doctors, db, params):
    if params.get("practitioner"):
        params = {"practitioner": doctors["A"].public_id}
    url = "/clinic/outcomes?" + "&".join(f"{k}={v}" for k, v in params.items())
    _many(db, doctors, 0, 10)
    queries_for(db, client, url)  # warm up
    small = queries_for(db, client, url)
    _many(db, doctors, 10, 90)
    grow_to(db, 1000, doctors.values())
    assert queries_for(db, client, url) == small


def test_demo_clinic_has_outcomes(app, runner, client, staff, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    figures = _figures(_report(client))
    assert figures["statuses"]["improved"] and figures["statuses"]["worse"]
    assert 0 < figures["rate"] < 1 and figures["median"] is not None
    assert len(figures["by_session"]) >= 3
