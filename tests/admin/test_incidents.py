"""The privacy incident register (SPEC 11.2): admins record and correct entries (times in the
clinic's time zone, bad input refused beside its field with nothing lost), every change is
kept whole as an earlier version (the audit log names only the fields changed), an edit of
an older version is refused, entries are never deleted (no route; the database refuses),
the CSV holds every entry safe from formulas, the admin home counts notifications
outstanding, and nobody but an admin reaches any of it (404)."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text

from portal import clock
from portal.clinic_settings import current_settings
from portal.models import AuditEvent, PrivacyIncident
from portal.models.rights import PrivacyIncidentVersion
from portal.rights import incidents
from tests.factories import make_admin, make_patient, make_practitioner
from tests.queries import queries_for

ZONE = "America/Toronto"  # UTC-5 in November (daylight time ended on 2 November 2025)


@pytest.fixture
def admin(client, auth, db):
    settings = current_settings()
    settings.timezone = ZONE
    db.session.commit()
    user = make_admin(name="Ada Admin")
    assert auth.login(user).status_code == 303
    return user


def _form(**changes) -> dict:
    data = {"discovered_day": "2025-11-03", "discovered_time": "14:30",
            "occurred_day": "2025-11-03", "occurred_time": "09:15",
            "description": "Appointment summary e-mailed to the wrong address.",
            "records_affected": "Patients seen on 3 November", "people_affected": "1",
            "real_risk": "no",
            "risk_reasoning": "Low sensitivity; the recipient confirmed deletion.",
            "regulator_day": "", "regulator_time": "", "individuals_day": "",
            "individuals_time": "", "measures": "Address book entry corrected."}
    data.update(changes)
    return data


def _entries(db) -> list[PrivacyIncident]:
    db.session.expire_all()
    return list(db.session.scalars(select(PrivacyIncident).order_by(PrivacyIncident.id)))


def _events(db, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def _error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("\u00a0", " ")


def test_an_entry_is_recorded_in_the_clinic_time_zone_and_links_its_patients(client, admin,
                                                                              db):
    patient = make_patient(name="Rosa Ouellet")
    pid = patient.patient.public_id
    response = client.post("/admin/incidents/new", data=_form(
        records_affected=f"{pid}, and one person not registered", real_risk="yes"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    [entry] = _entries(db)
    assert response.location.endswith(f"/admin/incidents/{entry.public_id}")
    # 14:30 in Toronto on 3 November 2025 is 19:30 UTC.
    assert entry.discovered_at == datetime(2025, 11, 3, 19, 30, tzinfo=UTC)
    assert entry.occurred_at == datetime(2025, 11, 3, 14, 15, tzinfo=UTC)
    assert entry.real_risk and entry.people_affected == 1
    assert entry.recorded_by_id == admin.id
    [event] = _events(db, "incident.recorded")
    assert event.subject == entry.public_id and json.loads(event.detail) == {"real_risk": True}

    page = client.get(response.location).get_data(as_text=True).replace("\u202f", " ")
    assert "Nov 3, 2025, 2:30 p.m." in page  # the clinic's wall clock, not UTC's 7:30 p.m.
    assert "7:30" not in page
    assert f'href="/clinic/patients/{pid}/"' in page and "Rosa Ouellet" in page
    assert "Notification outstanding" in page
    assert "24 months" in page and "Law 25" in page
    home = client.get("/admin/").get_data(as_text=True)
    assert "1 incident with notification outstanding" in home
    assert 'href="/admin/incidents"' in home


BAD = [
    ({"discovered_day": "2025-13-45"}, "discovered_day", "Enter the date as year-month-day"),
    ({"discovered_time": "25:99"}, "discovered_time", "Enter the time as hours and minutes"),
    ({"discovered_day": ""}, "discovered_day", "Enter the date the incident was discovered."),
    ({"risk_reasoning": "   "}, "risk_reasoning", "Explain why there is, or is not"),
    ({"description": ""}, "description", "Describe what happened."),
    ({"real_risk": ""}, "real_risk", "Choose yes or no."),
    ({"people_affected": "-2"}, "people_affected", "Enter a number of people, 0 or more."),
    ({"people_affected": "a few"}, "people_affected", "Enter a whole number"),
    ({"occurred_day": "2025-11-04", "occurred_time": "08:00"}, "occurred_day",
     "It cannot have happened after it was discovered."),
    ({"occurred_time": ""}, "occurred_time", "Enter the time too, or leave the date empty."),
    ({"regulator_day": "2025-11-01", "regulator_time": "10:00"}, "regulator_day",
     "The regulator cannot have been notified before the discovery."),
    # The clocks went forward at 02:00 on 9 March 2025 in Toronto: 02:30 never came.
    ({"discovered_day": "2025-03-09", "discovered_time": "02:30", "occurred_day": "",
      "occurred_time": ""}, "discovered_time", "so this time did not exist there"),
    # They went back at 02:00 on 2 November 2025: 01:30 came twice.
    ({"occurred_day": "2025-11-02", "occurred_time": "01:30"}, "occurred_time",
     "so this time came twice"),
]


@pytest.mark.parametrize(("changes", "field_id", "message"), BAD,
                         ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)])
def test_bad_input_is_refused_beside_its_field_and_nothing_typed_is_lost(client, admin, db,
                                                                        changes, field_id,
                                                                        message):
    data = _form(**changes)
    response = client.post("/admin/incidents/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in _error(page, field_id)
    assert "Please check the following" in page
    for name in ("description", "risk_reasoning", "measures", "records_affected"):
        if data[name].strip():
            assert data[name].replace("'", "&#39;") in page, name
    assert _entries(db) == []


def test_discovery_in_the_future_is_refused(client, admin, db):
    tomorrow = clock.now() + timedelta(days=2)
    response = client.post("/admin/incidents/new", data=_form(
        discovered_day=tomorrow.date().isoformat(), occurred_day="", occurred_time=""))
    assert response.status_code == 422
    assert "The discovery cannot be in the future." in _error(response.get_data(as_text=True),
                                                               "discovered_day")
    assert _entries(db) == []


def _record(actor, **changes) -> PrivacyIncident:
    values = {"discovered_at": datetime(2025, 11, 3, 19, 30, tzinfo=UTC),
              "description": "Summary sent to the wrong address.",
              "records_affected": "One patient", "real_risk": True,
              "risk_reasoning": "Diagnosis included.", "measures": None}
    values.update(changes)
    return incidents.record(actor, incidents.IncidentData(**values))


def _version_field(page: str) -> str:
    match = re.search(r'name="version" type="hidden" value="(\d+)"', page) or re.search(
        r'type="hidden" name="version" value="(\d+)"', page)
    assert match, "no version field"
    return match.group(1)


def test_an_edit_keeps_the_version_it_replaced_and_audits_only_what_changed(client, admin,
                                                                            db):
    entry = _record(admin, people_affected=1)
    assert "1 incident with notification outstanding" in client.get("/admin/").get_data(
        as_text=True)
    url = f"/admin/incidents/{entry.public_id}"
    form = client.get(url).get_data(as_text=True)
    assert 'value="2025-11-03"' in form and 'value="14:30"' in form  # the clinic's clock
    assert _version_field(form) == "1" and "Earlier versions" not in form
    edited = _form(
        description="Summary sent to the wrong address.", records_affected="One patient",
        real_risk="yes", risk_reasoning="Diagnosis included; recipient unknown.",
        occurred_day="", occurred_time="", people_affected="1", measures="",
        regulator_day="2025-11-04", regulator_time="10:00",
        individuals_day="2025-11-04", individuals_time="11:00", version="1")
    response = client.post(url, data=edited)
    assert response.status_code == 303
    [entry] = _entries(db)
    assert entry.regulator_notified_at == datetime(2025, 11, 4, 15, 0, tzinfo=UTC)
    assert entry.individuals_notified_at == datetime(2025, 11, 4, 16, 0, tzinfo=UTC)
    assert entry.updated_by_id == admin.id and entry.updated_at is not None
    assert entry.version == 2
    [kept] = db.session.scalars(select(PrivacyIncidentVersion)).all()
    assert (kept.incident_id, kept.version, kept.edited_by_id) == (entry.id, 1, admin.id)
    assert kept.risk_reasoning == "Diagnosis included." and kept.regulator_notified_at is None
    assert kept.discovered_at == entry.discovered_at
    # The audit event names the fields and the version: none of the entry's words.
    [event] = _events(db, "incident.updated")
    detail = json.loads(event.detail)
    assert detail == {"fields": ["risk_reasoning", "regulator_notified_at",
                                 "individuals_notified_at"], "version": 2}
    page = client.get(url).get_data(as_text=True).replace("\u202f", " ")
    assert "The changes are saved." in page and "Notified" in page
    assert "Notification outstanding" not in page
    assert "notification outstanding" not in client.get("/admin/").get_data(as_text=True)
    # The earlier version, readable, on the clinic's wall clock.
    history = page[page.index('id="incident-history"'):page.index('id="incident-edit"')]
    assert "Version 1" in history and "Diagnosis included." in history
    assert "Nov 3, 2025, 2:30 p.m." in history  # discovered: 19:30 UTC, 14:30 in Toronto
    assert "Ada Admin" in history
    assert "Changed by the next version: Why there is, or is not" in history
    assert _version_field(page) == "2"

    log = client.get("/admin/audit").get_data(as_text=True).replace("&#39;", "'")
    assert "Privacy incident entry changed" in log and "regulator notified" in log
    assert "Diagnosis included." not in log

    # A refused edit changes nothing, and shows the stored entry above the form.
    response = client.post(url, data={**edited, "discovered_day": "2025-11-05",
                                      "version": "2"})
    assert response.status_code == 422
    assert _entries(db)[0].discovered_at == datetime(2025, 11, 3, 19, 30, tzinfo=UTC)
    assert len(_events(db, "incident.updated")) == 1
    # Saving the same values writes nothing.
    same = client.post(url, data={**edited, "version": "2"})
    assert same.status_code == 303
    assert len(_events(db, "incident.updated")) == 1
    assert _entries(db)[0].version == 2


def test_an_edit_of_an_older_version_is_refused_and_the_newer_one_shown(client, admin, db):
    entry = _record(admin)
    url = f"/admin/incidents/{entry.public_id}"
    base = _form(description="Summary sent to the wrong address.",
                 records_affected="One patient", real_risk="yes",
                 risk_reasoning="Diagnosis included.", occurred_day="", occurred_time="",
                 people_affected="", measures="")
    # Two admins open version 1; the first saves.
    assert client.post(url, data={**base, "measures": "Recipient called.",
                                  "version": "1"}).status_code == 303
    # The second's edit, from version 1, is refused: nothing of it is saved.
    response = client.post(url, data={**base, "measures": "Letter sent to the recipient.",
                                      "version": "1"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else saved a new version of this entry" in page
    facts = page[:page.index('id="incident-edit"')]
    assert "Recipient called." in facts  # the entry as it is now
    assert "Letter sent to the recipient." in page  # what they typed, kept in the form
    assert _version_field(page) == "2"
    [stored] = _entries(db)
    assert stored.measures == "Recipient called." and stored.version == 2
    assert len(_events(db, "incident.updated")) == 1
    # A form without its version is an edit of an unknown version: refused the same way.
    assert client.post(url, data={**base, "measures": "x"}).status_code == 409
    # Saving again, having compared, makes version 3.
    assert client.post(url, data={**base, "measures": "Letter sent to the recipient.",
                                  "version": "2"}).status_code == 303
    assert _entries(db)[0].version == 3
    # A race lost after reading version 3 (another edit commits between the read and the
    # write): the conditional update changes nothing.
    stale = _entries(db)[0]
    assert stale.version == 3
    db.session.execute(text("UPDATE privacy_incidents SET version = 4"))  # object not told
    with pytest.raises(incidents.IncidentConflict):
        incidents.update(admin, stale, incidents.IncidentData(
            discovered_at=stale.discovered_at, description="Changed", records_affected="x",
            real_risk=True, risk_reasoning="y"), 3)
    assert _entries(db)[0].description == "Summary sent to the wrong address."


def test_whose_records_links_known_patients_and_keeps_other_words_as_text(client, admin, db):
    patient = make_patient(name="Rosa Ouellet")
    pid = patient.patient.public_id
    # A chart's address pasted whole, an id-shaped word of no patient, and a long word.
    words = (f"https://clinic.example/clinic/patients/{pid}/?tab=sessions#notes, "
             "Ab3dEf6hIj9lMn0p, Responsibility1")
    response = client.post("/admin/incidents/new", data=_form(records_affected=words))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    [entry] = _entries(db)
    assert entry.records_affected == words
    assert [p.public_id for p in incidents.named_patients(words)] == [pid]
    page = client.get(response.location).get_data(as_text=True)
    assert f'href="/clinic/patients/{pid}/"' in page and "Rosa Ouellet" in page


def test_earlier_versions_are_never_changed_or_deleted(client, admin, db):
    entry = _record(admin)
    incidents.update(admin, entry, incidents.IncidentData(
        discovered_at=entry.discovered_at, description="Corrected", records_affected="x",
        real_risk=True, risk_reasoning="y"), 1)
    for statement in ("UPDATE privacy_incident_versions SET description = 'gone'",
                      "DELETE FROM privacy_incident_versions"):
        with pytest.raises(Exception, match="never changed or deleted"):
            db.session.execute(text(statement))
        db.session.rollback()
    [kept] = db.session.scalars(select(PrivacyIncidentVersion)).all()
    assert kept.description == "Summary sent to the wrong address."


def test_entries_are_never_deleted(client, admin, db, app):
    entry = _record(admin)
    # No route deletes one...
    for rule in app.url_map.iter_rules():
        if "incident" in rule.rule:
            assert "DELETE" not in rule.methods, rule.rule
    assert client.delete(f"/admin/incidents/{entry.public_id}").status_code == 405
    # ...and the database refuses, on either backend.
    with pytest.raises(Exception, match="never deleted"):
        db.session.execute(delete(PrivacyIncident))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception, match="never deleted"):
        db.session.execute(text("DELETE FROM privacy_incidents"))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PrivacyIncident)) == 1


def test_the_csv_holds_every_entry_safe_from_formulas(client, admin, db):
    _record(admin, description="=HYPERLINK(\"http://evil.example\")",
            records_affected="@SUM(A1)", people_affected=3, real_risk=False,
            risk_reasoning="-1+1", measures="+cmd")
    _record(admin, discovered_at=datetime(2025, 11, 10, 15, 0, tzinfo=UTC),
            regulator_notified_at=datetime(2025, 11, 11, 15, 0, tzinfo=UTC))
    response = client.get("/admin/incidents.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == 2
    newest, oldest = rows
    assert newest["discovered"] == "2025-11-10 10:00 -05:00"  # the clinic's time zone
    assert newest["real_risk_of_significant_harm"] == "yes"
    assert newest["regulator_notified"] == "2025-11-11 10:00 -05:00"
    assert newest["notification_outstanding"] == "yes"
    assert oldest["what_happened"] == "'=HYPERLINK(\"http://evil.example\")"
    assert oldest["whose_records"] == "'@SUM(A1)"
    assert oldest["risk_reasoning"] == "'-1+1" and oldest["measures_taken"] == "'+cmd"
    assert oldest["people_affected"] == "3" and oldest["notification_outstanding"] == "no"
    assert oldest["recorded_by"] == admin.email
    assert len(_events(db, "incidents.exported")) == 1


def test_the_register_pages_newest_first_with_constant_queries(client, admin, db):
    start = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    for day in range(3):
        _record(admin, discovered_at=start + timedelta(days=day), description=f"Entry {day}")
    few = queries_for(db, client, "/admin/incidents")
    for day in range(3, 25):
        _record(admin, discovered_at=start + timedelta(days=day), description=f"Entry {day}")
    many = queries_for(db, client, "/admin/incidents")
    assert many == few
    page = client.get("/admin/incidents").get_data(as_text=True)
    shown = [int(n) for n in re.findall(r"Entry (\d+)", page)]
    assert shown == list(range(24, 4, -1))  # 20 a page, newest discovered first
    older = re.search(r'href="(/admin/incidents\?after=[^"]+)" rel="next"', page).group(1)
    rest = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert [int(n) for n in re.findall(r"Entry (\d+)", rest)] == [4, 3, 2, 1, 0]
    assert 'rel="next"' not in rest and "Newest entries" in rest
    assert queries_for(db, client, older) <= few + 1


@pytest.mark.parametrize("role", ["practitioner", "patient"])
def test_nobody_but_an_admin_reaches_the_register(client, auth, db, role):
    owner = make_admin()
    entry = _record(owner)
    user = make_practitioner() if role == "practitioner" else make_patient()
    assert auth.login(user).status_code == 303
    for url in ("/admin/incidents", "/admin/incidents/new", f"/admin/incidents/{entry.public_id}",
                "/admin/incidents.csv"):
        assert client.get(url).status_code == 404, url
    for url in ("/admin/incidents/new", f"/admin/incidents/{entry.public_id}"):
        assert client.post(url, data=_form()).status_code == 404, url
    assert len(_entries(db)) == 1 and _entries(db)[0].description.startswith("Summary")


def test_an_unknown_entry_is_404(client, admin):
    assert client.get("/admin/incidents/nosuchentry0000").status_code == 404
    assert client.post("/admin/incidents/nosuchentry0000", data=_form()).status_code == 404


def test_the_demo_entry_is_realistic_audited_and_made_once(client, admin, db):
    from portal.demo import incidents as incidents_demo
    patient = make_patient(name="Rosa Ouellet").patient
    entry = incidents_demo.seed(admin, patient)
    assert incidents_demo.seed(admin, patient).id == entry.id  # run again: kept
    [stored] = _entries(db)
    assert stored.records_affected == patient.public_id and not stored.real_risk
    assert stored.occurred_at < stored.discovered_at < clock.now()
    assert "address" in stored.description
    assert stored.measures and "PIPEDA s. 10.1(8)" in stored.risk_reasoning
    assert len(_events(db, "incident.recorded")) == 1
    page = client.get(f"/admin/incidents/{stored.public_id}").get_data(as_text=True)
    assert "No real risk of significant harm" in page and "Rosa Ouellet" in page


# The clocks went back at 02:00 on 2 November 2025 in Toronto: 01:30 came at 05:30 UTC
# (daylight time, the first) and again at 06:30 UTC (standard time, the second).
FIRST_0130, SECOND_0130 = (datetime(2025, 11, 2, 5, 30, tzinfo=UTC),
                           datetime(2025, 11, 2, 6, 30, tzinfo=UTC))


def _edit_form(page: str, **changes) -> dict:
    """The edit form as shown, sent back with ``changes``."""
    values = dict(re.findall(r'<input[^>]*?name="(\w+)"[^>]*?value="([^"]*)"', page))
    data = _form(occurred_day="", occurred_time="", people_affected="", measures="",
                 description="Summary sent to the wrong address.",
                 records_affected="One patient", real_risk="yes",
                 risk_reasoning="Diagnosis included.")
    for name in ("discovered_day", "discovered_time", "occurred_day", "occurred_time",
                 "version"):
        data[name] = values.get(name, "")
    data.update(changes)
    return data


def test_an_entry_in_the_repeated_hour_is_edited_without_touching_its_times(client, admin,
                                                                           db):
    entry = _record(admin, discovered_at=SECOND_0130, occurred_at=FIRST_0130 -
                    timedelta(minutes=10))
    url = f"/admin/incidents/{entry.public_id}"
    page = client.get(url).get_data(as_text=True)
    data = _edit_form(page, measures="Recipient called.")
    assert (data["discovered_day"], data["discovered_time"]) == ("2025-11-02", "01:30")
    assert data["occurred_time"] == "01:20"
    response = client.post(url, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    [stored] = _entries(db)
    assert stored.discovered_at == SECOND_0130
    assert stored.occurred_at == FIRST_0130 - timedelta(minutes=10)
    assert stored.measures == "Recipient called." and stored.version == 2
    [event] = _events(db, "incident.updated")
    assert json.loads(event.detail)["fields"] == ["measures"]


def test_the_admin_chooses_which_of_a_repeated_time_was_meant(client, admin, db):
    data = _form(occurred_day="2025-11-02", occurred_time="01:30")
    response = client.post("/admin/incidents/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "so this time came twice" in _error(page, "occurred_time")
    assert "The second (standard time)" in page and 'name="occurred_occurrence"' in page
    assert 'name="discovered_occurrence"' not in page  # only beside the repeated time
    assert _entries(db) == []

    response = client.post("/admin/incidents/new",
                           data={**data, "occurred_occurrence": "second"})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    [entry] = _entries(db)
    assert entry.occurred_at == SECOND_0130
    # The first, on an edit.
    page = client.get(response.location).get_data(as_text=True)
    assert client.post(response.location, data=_edit_form(
        page, occurred_day="2025-11-02", occurred_time="01:30",
        occurred_occurrence="first")).status_code == 303
    assert _entries(db)[0].occurred_at == FIRST_0130


def test_a_new_entry_discovered_in_the_repeated_hour_keeps_its_prefilled_now(client, admin,
                                                                            db):
    # Now is 01:20 on 1 November 2026 in Toronto, daylight time: the first 01:20.
    first_0120 = datetime(2026, 11, 1, 5, 20, tzinfo=UTC)
    clock.advance(seconds=(first_0120 - clock.now()).total_seconds())
    page = client.get("/admin/incidents/new").get_data(as_text=True)
    assert 'value="2026-11-01"' in page and 'value="01:20"' in page
    prefilled = re.search(r'name="prefilled_at"[^>]*value="([^"]*)"', page) or re.search(
        r'value="([^"]*)"[^>]*name="prefilled_at"', page)
    assert prefilled, "no prefilled moment"
    response = client.post("/admin/incidents/new", data=_form(
        discovered_day="2026-11-01", discovered_time="01:20", occurred_day="",
        occurred_time="", prefilled_at=prefilled.group(1)))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    assert _entries(db)[0].discovered_at == first_0120
