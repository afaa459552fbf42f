"""The patient chart (SPEC 5.3, 7.1, 8.5): a header on every tab, six tabs at their own
addresses (the panel alone for an htmx tab switch, the whole chart otherwise), one audit
event per view, discharge and re-admission, resending an invitation, staff only, and a
number of SQL statements that does not grow with the record or the clinic."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, func, select

from portal import audit, clock
from portal.clinic.chart import services as chart_data
from portal.clinic.chart.forms import discharge_reason_labels
from portal.extensions import db
from portal.intake import services as intake
from portal.models import AuditEvent, OutboxMessage, Patient, User
from tests.conftest import Auth, CSRFClient
from tests.factories import make_follow_up, make_patient
from tests.intake.helpers import make_intake
from tests.markup import parse
from tests.queries import grow_to, queries_for

# Long sign-ins (the clock moves), a practitioner and their signed-in client.
from tests.treatment.conftest import app_config, doctor, doctor_client  # noqa: F401
from tests.treatment.helpers import HX, history, make_treatable, rate, record
from tests.treatment.test_pages import check_markup

# tab -> (address after /clinic/patients/<id>/, the audit action its view writes, the id
# its panel fragment starts with)
TABS = {
    "summary": ("", "chart.viewed", "chart-summary"),
    "intake": ("intake", "intake.viewed", "staff-intake"),
    "documents": ("documents", "documents.viewed", "patient-documents"),
    "sessions": ("sessions", "sessions.viewed", "patient-sessions"),
    "ratings": ("ratings", "ratings.viewed", "chart-ratings"),
    "activity": ("activity", "activity.viewed", "chart-activity"),
}


@pytest.fixture
def staff(doctor_client):
    return doctor_client


@pytest.fixture
def margaret(app, doctor):
    """In treatment: intake baseline 6, four rated sessions (the third re-rates the PSFS
    activities), assigned to the doctor."""
    user = make_treatable(name="Margaret Côté")
    history(user, [5, 4, 4, 3], practitioner=doctor)
    patient = db.session.get(Patient, user.patient.id)
    patient.practitioner_id = doctor.id
    db.session.commit()
    return db.session.get(User, user.id)


def url(user: User, tab: str = "summary") -> str:
    return f"/clinic/patients/{user.patient.public_id}/{TABS[tab][0]}"


def actions(patient_user: User | None = None) -> list[str]:
    stmt = select(AuditEvent.action).order_by(AuditEvent.id)
    if patient_user is not None:
        stmt = stmt.where(AuditEvent.patient_id == patient_user.patient.id)
    return list(db.session.scalars(stmt))


def status_of(user: User) -> str:
    db.session.expire_all()
    return db.session.get(Patient, user.patient.id).status


# --- the header and the tabs ------------------------------------------------------------

@pytest.mark.parametrize("tab", TABS)
def test_every_tab_is_a_whole_chart_and_one_audit_event(staff, margaret, tab):
    before = actions(margaret)
    response = staff.get(url(margaret, tab))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    check_markup(tab, html)
    doc = parse(html)
    assert [h.text.strip() for h in doc.find_all("h1")] == ["Margaret Côté"]
    nav = doc.find_all("nav", class_="chart-tabs")
    assert len(nav) == 1
    links = list(nav[0].children[0].children)
    hrefs = [li.children[0].attrs["href"] for li in links]
    assert hrefs == [url(margaret, t) for t in TABS]
    current = [li.children[0] for li in links if li.children[0].attrs.get("aria-current")]
    assert [a.attrs["href"] for a in current] == [url(margaret, tab)]
    for a in (li.children[0] for li in links):
        assert a.attrs["data-hx-get"] == a.attrs["href"]
        assert a.attrs["data-hx-target"] == "#chart-panel" and a.attrs["data-hx-push-url"] == "true"
    assert doc.by_id("chart-panel").children[0].attrs["id"] == TABS[tab][2]
    assert doc.by_id("chart-panel-title").text.strip() == current[0].text.strip()
    # The main menu says where this is: among the patients, not on the worklist.
    menu = doc.find_all("nav", class_="site-nav")[0]
    assert [a.attrs["href"] for a in _descendants(menu)
            if a.tag == "a" and a.attrs.get("aria-current")] == ["/clinic/patients/"]
    # One event per view, naming the patient and the viewer.
    assert actions(margaret)[len(before):] == [TABS[tab][1]]


@pytest.mark.parametrize("tab", TABS)
def test_an_htmx_tab_switch_gets_the_panel_alone(staff, margaret, tab):
    staff.get(url(margaret, "summary"))
    before = len(actions(margaret))
    response = staff.get(url(margaret, tab), headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<h1" not in html and "data-chart-tabs" not in html
    assert html.lstrip().startswith(f'<div id="{TABS[tab][2]}"')
    assert "hx-request" in {v.lower() for v in response.vary}
    assert len(actions(margaret)) == before + 1
    # A boosted request or a history restore (the back button) gets the whole chart again.
    for headers in ({**HX, "HX-Boosted": "true"}, {**HX, "HX-History-Restore-Request": "true"}):
        page = staff.get(url(margaret, tab), headers=headers).get_data(as_text=True)
        assert "<html" in page and "data-chart-tabs" in page


def test_header_says_who_where_they_stand_and_what_to_watch(staff, margaret):
    response = make_intake(make_patient(name="Fran Flagged"), rf_saddle_numbness="yes",
                           pc_anticoagulant="yes", pc_anticoagulant_name="Apixaban",
                           pc_anticoagulant_dose="5 mg")
    flagged = response.patient.user
    doc = parse(staff.get(url(flagged)).get_data(as_text=True))
    assert _badges(doc) == ["Intake submitted", "1 red flag", "1 precaution", "Intake not reviewed",
                      "Not cleared for IMS", "Consent signed", "Consent discussion not recorded"]
    facts = _facts(doc)
    born = chart_data.age_on(date(1960, 5, 17), intake.today())
    assert facts["Age"].startswith(f"{born} years") and "May 17, 1960" in facts["Age"]
    assert facts["E-mail address"] == flagged.email
    assert facts["Phone number"] == "604-555-0123"
    assert facts["Practitioner"] == "Not assigned"

    doc = parse(staff.get(url(margaret)).get_data(as_text=True))
    # Fewer badges (issue 15): a consent signed and discussed is one.
    assert _badges(doc) == ["In treatment", "Intake not reviewed", "Cleared for IMS",
                            "Consent signed and discussed", "Pain: Meaningful improvement"]
    assert _facts(doc)["Practitioner"] == "Dr. Jordan Lee"


def test_age_and_phone_are_unknown_before_the_intake(staff):
    user = make_patient(name="New Nina")
    facts = _facts(parse(staff.get(url(user)).get_data(as_text=True)))
    assert facts["Age"] == facts["Phone number"] == "Not known yet"


def test_age_counts_birthdays():
    assert chart_data.age_on(date(1960, 5, 17), date(2026, 5, 16)) == 65
    assert chart_data.age_on(date(1960, 5, 17), date(2026, 5, 17)) == 66
    assert chart_data.age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert chart_data.age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26


def _descendants(element):
    for child in element.children:
        yield child
        yield from _descendants(child)


def _badges(doc) -> list[str]:
    line = doc.find_all("p", class_="chart-header__badges")[0]
    return [b.text.strip() for b in _descendants(line) if b.tag == "span"]


def _facts(doc) -> dict[str, str]:
    dl = doc.find_all("dl", class_="chart-header__facts")[0]
    out = {}
    for pair in dl.children:
        dt, dd = pair.children[0], pair.children[1]
        out[dt.text.strip()] = " ".join(dd.text.split())
    return out


# --- summary ------------------------------------------------------------------------------

def test_summary_shows_baseline_latest_change_and_body_map(staff, margaret):
    doc = parse(staff.get(url(margaret)).get_data(as_text=True))

    def row(element_id: str) -> str:
        return " ".join(doc.by_id(element_id).text.split())

    nprs = row("summary-nprs")
    # Baseline 6 (intake), latest 3 at session 4: 3 points and 50% down, improved.
    assert "6/10 (intake)" in nprs and "3/10 (at session 4)" in nprs
    assert "\u22123 (\u221250%)" in nprs and "Meaningful improvement" in nprs
    # PEG: the intake's mean of (6, 6, 7), shown, never classified (CLINICAL.md).
    peg = row("summary-peg")
    assert "6.3/10 (intake)" in peg and "Asked at intake only" in peg
    # PSFS: intake (3, 5) -> session 3 (6, 6): +2 on the mean, improved (Stratford 1995).
    psfs = row("summary-psfs")
    assert "4/10" in psfs and "6/10 (at session 3)" in psfs and "+2" in psfs
    assert "Meaningful improvement" in psfs
    summary = " ".join(doc.by_id("chart-summary").text.split())
    assert "4 sessions, 4 rated." in summary
    # The intake's body map, read-only: the figure and the same in words.
    assert doc.find_all("polygon", class_="bm-region bm-i-7")
    assert "Shoulder (front), right side: 7 out of 10" in summary
    assert not doc.find_all("select") or all(
        not s.attrs.get("name", "").startswith("pain_map") for s in doc.find_all("select"))


def test_summary_says_responder_and_worsening_side_by_side(staff, doctor):
    """8 -> 2 -> 4: a responder (50% below the baseline) with the worsening alert (2 points up
    on the rating before), in English and in French (CLINICAL.md, "Responder")."""
    user = make_treatable(name="Rosa Rebound", baseline=8)
    history(user, [2, 4], practitioner=doctor)
    doc = parse(staff.get(url(user)).get_data(as_text=True))
    nprs = " ".join(doc.by_id("summary-nprs").text.split())
    assert "Meaningful improvement" in nprs
    assert "Worsening alert Improved since starting; 2 points worse than last time." in nprs
    assert "Pain rose by 2 points" not in nprs  # said once, in the sentence above
    header = " ".join(doc.find_all(class_="chart-header__badges")[0].text.split())
    assert "Pain: Meaningful improvement Worsening alert" in header
    printable = parse(staff.get(f"/clinic/patients/{user.patient.public_id}/summary")
                      .get_data(as_text=True))
    status = " ".join(printable.by_id("summary-status").text.split())
    assert status == ("Meaningful improvement Worsening alert Improved since starting; "
                      "2 points worse than last time.")
    doctor.locale = "fr_CA"
    db.session.commit()
    doc = parse(staff.get(url(user)).get_data(as_text=True))
    nprs = " ".join(doc.by_id("summary-nprs").text.split())
    assert "Amélioration cliniquement significative" in nprs
    assert ("Alerte d'aggravation Amélioration depuis le début ; 2 points de plus que la "
            "dernière fois." in nprs)


def test_summary_before_any_session_or_intake(staff):
    user = make_patient(name="New Nina")
    html = staff.get(url(user)).get_data(as_text=True)
    summary = " ".join(parse(html).by_id("chart-summary").text.split())
    assert "No session recorded yet." in summary
    assert "Nothing to show until the intake is sent." in summary
    assert "Not enough ratings yet" in summary


def test_summary_brings_the_stored_outcome_up_to_date(staff, margaret):
    """The header reads the stored outcome; the summary refreshes it first, as the sessions
    page does, so both say the same after the baseline moved."""
    outcome = chart_data.header(margaret.patient).outcome
    outcome.baseline = 3  # as if stale
    outcome.status = "unchanged"
    db.session.commit()
    staff.get(url(margaret))
    db.session.expire_all()
    assert chart_data.header(margaret.patient).outcome.status == "improved"


# --- ratings ------------------------------------------------------------------------------

def test_ratings_tab_draws_the_chart_and_lists_every_rating(staff, margaret):
    open_one = record(margaret, hours_ago=1)  # not rated yet: not in the table
    rate(record(margaret, hours_ago=26), 6, breathing=True)
    doc = parse(staff.get(url(margaret, "ratings")).get_data(as_text=True))
    svg = doc.by_id("chart-nprs-title")
    nprs = next(e for e in doc.find_all("svg") if svg in list(_descendants(e)))
    points = [e for e in _descendants(nprs) if e.tag == "circle"]
    assert [p.attrs["data-value"] for p in points] == ["5", "4", "4", "3", "6"]
    body = next(e for e in doc.by_id("chart-ratings-table").children if e.tag == "tbody")
    rows = body.children
    assert len(rows) == 5
    newest = " ".join(rows[0].text.split())
    assert newest.startswith("Session 5") and "6/10" in newest
    assert open_one.public_id not in str(doc.elements)
    # The safety check's "yes" is listed on the sessions tab, with who acknowledged it.
    sessions = parse(staff.get(url(margaret, "sessions")).get_data(as_text=True))
    assert "Chest pain" in sessions.by_id("safety-reports").text


def test_ratings_tab_without_ratings(staff):
    user = make_treatable(name="Una Unrated")
    html = staff.get(url(user, "ratings")).get_data(as_text=True)
    assert "No session rated yet." in html and "chart-ratings-table" not in html


# --- activity -----------------------------------------------------------------------------

def _events(n: int, patient_user: User) -> None:
    patient = db.session.get(Patient, patient_user.patient.id)
    for i in range(n):
        audit.write("test.event", patient=patient, detail={"n": i})
    db.session.commit()


def test_activity_is_newest_first_in_keyset_pages(staff, margaret, db):
    other = make_patient(name="Someone Else")
    _events(3, other)
    _events(30, margaret)
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, *args):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        first = staff.get(url(margaret, "activity"))
        doc = parse(first.get_data(as_text=True))
        ids = [int(r.attrs["id"].split("-")[1]) for r in doc.find_all("tr")
               if r.attrs.get("id", "").startswith("event-")]
        assert len(ids) == 25 and ids == sorted(ids, reverse=True)
        # Its own view is the newest event (said in words: the code stays in the database).
        assert doc.by_id(f"event-{ids[0]}").text.count("Activity of the record viewed") == 1
        older = next(a for a in doc.find_all("a") if a.attrs.get("rel") == "next")
        assert older.attrs["data-hx-get"] == older.attrs["href"]
        assert parse_qs(urlsplit(older.attrs["href"]).query)["before"] == [str(ids[-1])]
        _events(2, margaret)  # written meanwhile: no repeat, no gap
        second = staff.get(older.attrs["href"], headers=HX).get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    more = [int(m) for m in re.findall(r'<tr id="event-(\d+)"', second)]
    mine = list(db.session.scalars(select(AuditEvent.id).where(
        AuditEvent.patient_id == margaret.patient.id).order_by(AuditEvent.id.desc())))
    assert more == [i for i in mine if i < ids[-1]][:25]
    assert 'data-focus-on-load' in second and "Newest" in second
    # Keyset, not OFFSET (SQLite's dialect writes "LIMIT ? OFFSET ?" with an offset of 0).
    paged = [(s, p) for s, p in statements if "audit_events" in s and "LIMIT" in s.upper()]
    assert paged and all("OFFSET" not in s.upper() or p[-1] == 0 for s, p in paged)
    others = set(db.session.scalars(select(AuditEvent.id).where(
        AuditEvent.patient_id == other.patient.id)))
    assert not others & set(ids + more)


@pytest.mark.parametrize("cursor", ["abc", "-5", "0", str(2**40)])
def test_activity_ignores_a_cursor_that_is_not_ours(staff, margaret, cursor):
    response = staff.get(url(margaret, "activity") + f"?before={cursor}")
    assert response.status_code == 200
    assert "Activity of the record viewed" in response.get_data(as_text=True)


# --- discharge and re-admission -----------------------------------------------------------

def discharge(client, user, reason="completed", **kwargs):
    return client.post(f"/clinic/patients/{user.patient.public_id}/discharge",
                       data={"discharge-reason": reason}, **kwargs)


def readmit(client, user, **kwargs):
    return client.post(f"/clinic/patients/{user.patient.public_id}/readmit", **kwargs)


def test_discharge_and_readmit(staff, margaret, doctor):
    staff.get(url(margaret))
    response = discharge(staff, margaret, "patient_request")
    assert response.status_code == 303 and urlsplit(response.location).path == url(margaret)
    assert status_of(margaret) == "discharged"
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.discharged"))
    assert (row.patient_id, row.actor_id) == (margaret.patient.id, doctor.id)
    assert json.loads(row.detail) == {"reason": "patient_request", "from": "in_treatment"}
    page = staff.get(url(margaret)).get_data(as_text=True)
    assert "is discharged (At the patient&#39;s request)" in page
    assert "Re-admit the patient" in page and "Discharge the patient" not in page
    # The record keeps when and why; the header says it.
    patient = db.session.get(Patient, margaret.patient.id)
    assert patient.discharge_reason == "patient_request"
    assert abs(patient.discharged_at - row.created_at).total_seconds() < 5
    facts = {dt.text: dd.text for dt, dd in zip(
        parse(page).find_all("dt"), parse(page).find_all("dd"))}
    assert facts["Discharged"].endswith(": At the patient's request")

    # Again: nothing changes, and it says so.
    again = discharge(staff, margaret)
    assert again.status_code == 303
    assert actions().count("patient.discharged") == 1
    assert "already discharged" in staff.get(url(margaret)).get_data(as_text=True)

    assert readmit(staff, margaret).status_code == 303
    assert status_of(margaret) == "in_treatment"  # she has sessions
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.readmitted"))
    assert json.loads(row.detail) == {"to": "in_treatment"}
    page = staff.get(url(margaret)).get_data(as_text=True)
    assert "is re-admitted. Status: In treatment." in page
    patient = db.session.get(Patient, margaret.patient.id)
    db.session.refresh(patient)
    assert (patient.discharged_at, patient.discharge_reason) == (None, None)
    assert "<dt>Discharged</dt>" not in page
    readmit(staff, margaret)
    assert actions().count("patient.readmitted") == 1


def test_discharge_without_a_reason_is_refused_by_the_field(staff, margaret):
    staff.get(url(margaret))
    response = discharge(staff, margaret, "")
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    assert doc.by_id("discharge-reason").attrs.get("aria-invalid") == "true"
    assert "Choose the reason for discharge." in doc.by_id("discharge-reason-error").text
    assert "open" in doc.find_all("details", class_="chart-discharge")[0].attrs
    assert discharge(staff, margaret, "bored").status_code == 422
    assert status_of(margaret) == "in_treatment"
    assert "patient.discharged" not in actions()


def test_without_the_csrf_token_nothing_changes(staff, margaret):
    staff.get(url(margaret))
    before = actions()
    assert discharge(staff, margaret, csrf=False).status_code == 400
    assert status_of(margaret) == "in_treatment"
    db.session.get(Patient, margaret.patient.id).status = "discharged"
    db.session.commit()
    assert readmit(staff, margaret, csrf=False).status_code == 400
    assert status_of(margaret) == "discharged"
    user = make_patient(password=None)
    sent = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert staff.post(f"/clinic/patients/{user.patient.public_id}/invitation",
                      csrf=False).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == sent
    assert actions() == before


def test_readmission_works_the_status_out_from_the_record(app, doctor):
    invited = make_patient(password=None)
    started = make_patient()
    sent = make_intake(make_patient()).patient.user
    cleared = make_treatable()
    treated = make_treatable()
    record(treated, doctor)
    cancelled_only = make_treatable()
    from portal.treatment import services as treatment
    with app.test_request_context():
        treatment.cancel_session(record(cancelled_only, doctor), doctor, "Booked by mistake")
    expected = {invited: "invited", started: "intake_in_progress", sent: "intake_submitted",
                cleared: "cleared", treated: "in_treatment", cancelled_only: "cleared"}
    for user, status in expected.items():
        patient = db.session.get(Patient, user.patient.id)
        assert chart_data.status_from_record(patient) == status
        chart_data.discharge(patient, doctor, "other")
        assert chart_data.readmit(patient, doctor) == status
        assert status_of(user) == status


def test_every_discharge_reason_has_a_label():
    assert tuple(discharge_reason_labels()) == chart_data.DISCHARGE_REASONS


# --- resending the invitation -------------------------------------------------------------

def test_resend_invitation_from_the_chart(staff, doctor):
    user = make_patient(name="Ivy Invited", password=None)
    page = staff.get(url(user)).get_data(as_text=True)
    assert "has not accepted the invitation yet" in page
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.to_addr == user.email))
    response = staff.post(f"/clinic/patients/{user.patient.public_id}/invitation")
    assert response.status_code == 303 and urlsplit(response.location).path == url(user)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.to_addr == user.email)) == before + 1
    assert actions(user)[-1] == "invitation.resent"
    assert "A new invitation was sent to" in staff.get(url(user)).get_data(as_text=True)


def test_no_invitation_to_resend_once_joined(staff, margaret):
    assert "Resend the invitation" not in staff.get(url(margaret)).get_data(as_text=True)
    assert staff.post(f"/clinic/patients/{margaret.patient.public_id}/invitation"
                      ).status_code == 404


# --- who may see it -----------------------------------------------------------------------

CHART_POSTS = ("discharge", "readmit", "invitation")


def test_patients_get_404_everywhere_and_unknown_ids_too(app, staff, margaret):
    app.test_client_class = CSRFClient
    own = app.test_client()
    assert Auth(own).login(margaret).status_code == 303
    for tab in TABS:
        assert own.get(url(margaret, tab)).status_code == 404, tab
    for action in CHART_POSTS:
        assert own.post(f"/clinic/patients/{margaret.patient.public_id}/{action}",
                        data={"discharge-reason": "other"}).status_code == 404
    assert status_of(margaret) == "in_treatment"
    for suffix in ("", "ratings", "activity"):
        assert staff.get(f"/clinic/patients/no-such-id/{suffix}").status_code == 404
    for action in CHART_POSTS:
        assert staff.post(f"/clinic/patients/no-such-id/{action}").status_code == 404


# --- the patient list leads here ----------------------------------------------------------

def test_patient_list_rows_link_to_the_chart(staff, margaret):
    html = staff.get("/clinic/patients/").get_data(as_text=True)
    links = [a for a in parse(html).find_all("a") if a.attrs.get("href") == url(margaret)]
    assert [a.text.strip() for a in links] == ["Margaret Côté"]


# --- SQL statements do not grow with the data (SPEC 8.5) ----------------------------------

def _course(doctor: User, rated: int, name: str) -> User:
    user = make_treatable(name=name)
    history(user, [5 - i % 3 for i in range(rated)], practitioner=doctor)
    _events(rated, user)
    # Follow-ups after discharge (SPEC 12.1), one per 5 rated sessions: the summary lists them.
    for i in range(rated // 5):
        make_follow_up(user.patient, weeks=6 + i, status=("answered", "sent")[i % 2])
    return user


def _crowd(n: int, start: int = 0) -> None:
    now = clock.now()
    for i in range(start, start + n):
        user = User(email=f"crowd{i}@example.org", name=f"Crowd {i}", role="patient",
                    created_at=now, password_hash="x")
        db.session.add(Patient(user=user, status="intake_in_progress", created_at=now,
                               last_activity_at=now - timedelta(minutes=i)))
    db.session.commit()


@pytest.mark.parametrize("tab", ["summary", "ratings", "activity"])
def test_queries_do_not_grow_with_sessions_or_patients(db, staff, doctor, tab):
    small = _course(doctor, 2, "Two Sessions")
    large = _course(doctor, 20, "Twenty Sessions")
    for user in (small, large):  # first views settle anything done once
        staff.get(url(user, tab))
    counts = {"2 sessions": queries_for(db, staff, url(small, tab)),
              "20 sessions": queries_for(db, staff, url(large, tab))}
    _crowd(10)
    counts["10 others"] = queries_for(db, staff, url(small, tab))
    grow_to(db, 1000, [doctor])
    counts["1,000 patients"] = queries_for(db, staff, url(small, tab))
    assert len(set(counts.values())) == 1, counts


def test_the_chart_header_links_to_both_exports(staff, margaret):
    page = staff.get(url(margaret)).get_data(as_text=True)
    public_id = margaret.patient.public_id
    assert f"/clinic/patients/{public_id}/summary" in page
    assert f"/clinic/patients/{public_id}/fhir.json" in page
