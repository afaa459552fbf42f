"""The audit log pages (SPEC 7.1): admins search the log (patient, who acted, action,
period on the clinic's calendar), page through it by keyset, export a search as CSV and
verify the hash chain; exports and verifications are logged in turn."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import insert, select, text

from portal import audit, clock, csvexport
from portal.clinic_settings import current_settings
from portal.models import AuditEvent
from tests.factories import make_admin, make_patient, make_practitioner
from tests.queries import queries_for

EVENT_ROW = re.compile(r'<tr id="event-(\d+)"')
LINK = re.compile(r'<a class="button button--quiet" href="([^"]+)" rel="(next|prev)"')


@pytest.fixture
def admin(client, auth, db):
    user = make_admin(name="Ada Admin")
    assert auth.login(user).status_code == 303
    return user


def _shown(client, **params) -> list[int]:
    response = client.get("/admin/audit", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [int(i) for i in EVENT_ROW.findall(response.get_data(as_text=True))]


def _ids(db, *where) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent.id).where(*where)
                                   .order_by(AuditEvent.id.desc())))


def _at(moment: datetime) -> None:
    """Move the portal's clock so that ``clock.now()`` is (about) ``moment``."""
    clock.reset()
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def _write(db, action: str, n: int = 1, **kwargs) -> list[int]:
    ids = []
    for _ in range(n):
        ids.append(audit.write(action, **kwargs).id)
    db.session.commit()
    return ids


# --- the page -------------------------------------------------------------------------

def test_admin_home_links_to_the_audit_log(client, admin):
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/audit"' in page


def test_page_lists_newest_first_with_names_and_works_without_javascript(client, admin, db):
    doctor = make_practitioner(name="Dr. Quinn")
    patient = make_patient(name="Rosa Patient")
    _write(db, "record.viewed", 3, patient=patient.patient, actor=doctor,
           detail={"tab": "summary"})
    response = client.get("/admin/audit")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    # A plain GET form: the address carries the search (bookmarkable).
    assert re.search(r'<form method="get" action="/admin/audit"', body)
    assert "Dr. Quinn" in body and doctor.email in body
    assert "Rosa Patient" in body and patient.patient.public_id in body
    assert "tab:" in body and "summary" in body
    assert _shown(client) == _ids(db)


def test_htmx_search_gets_the_fragment(client, admin, db):
    response = client.get("/admin/audit", query_string={"action": "login.succeeded"},
                          headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith("<section id=\"audit-search\"")
    assert "<html" not in body
    assert "HX-Request" in response.headers.get("Vary", "")
    assert 'data-hx-push-url="true"' in body


# --- search filters -------------------------------------------------------------------

def test_filter_by_patient_public_id_name_or_email(client, admin, db):
    rosa = make_patient(name="Rosa Lindqvist", email="rosa.l@example.org")
    omar = make_patient(name="Omar Haddad", email="omar.h@example.org")
    _write(db, "record.viewed", 2, patient=rosa.patient)
    _write(db, "record.viewed", 3, patient=omar.patient)
    rosa_ids = _ids(db, AuditEvent.patient_id == rosa.patient.id)
    assert len(rosa_ids) == 2
    assert _shown(client, patient=rosa.patient.public_id) == rosa_ids
    assert _shown(client, patient="lindq") == rosa_ids
    assert _shown(client, patient="ROSA.L@EXAMPLE") == rosa_ids
    assert _shown(client, patient="Haddad") == _ids(db, AuditEvent.patient_id == omar.patient.id)
    # LIKE wildcards are taken literally.
    assert _shown(client, patient="%") == []


def test_filter_by_actor_email(client, admin, db):
    quinn = make_practitioner(email="quinn@example.org")
    other = make_practitioner(email="other@example.org")
    _write(db, "record.viewed", 2, actor=quinn)
    _write(db, "record.viewed", 2, actor=other)
    assert _shown(client, actor="quinn@") == _ids(db, AuditEvent.actor_id == quinn.id)
    assert _shown(client, actor=admin.email) == _ids(db, AuditEvent.actor_id == admin.id)


def test_filter_by_action_offers_the_actions_in_the_log(client, admin, db):
    _write(db, "document.downloaded", 2)
    _write(db, "record.viewed", 1)
    page = client.get("/admin/audit").get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="([^"]*)"', page)
    assert options[0] == "" and {"document.downloaded", "record.viewed",
                                 "login.succeeded"} <= set(options)
    assert _shown(client, action="document.downloaded") == \
        _ids(db, AuditEvent.action == "document.downloaded")
    assert _shown(client, action="no.such.action") == []


def test_filter_by_period_uses_the_clinics_calendar(client, admin, db):
    settings = current_settings()
    settings.timezone = "America/Toronto"  # UTC-5 in November
    db.session.commit()
    # 03:30 UTC on the 20th is 22:30 on the 19th in Toronto.
    _at(datetime(2026, 11, 20, 3, 30, tzinfo=UTC))
    late_on_19th = _write(db, "test.period")
    _at(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    on_20th = _write(db, "test.period")
    _at(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    on_22nd = _write(db, "test.period")
    clock.reset()
    q = {"action": "test.period"}
    assert _shown(client, date_from="2026-11-19", date_to="2026-11-19", **q) == late_on_19th
    assert _shown(client, date_from="2026-11-20", **q) == on_22nd + on_20th
    assert _shown(client, date_to="2026-11-21", **q) == on_20th + late_on_19th
    assert _shown(client, date_from="2026-11-21", date_to="2026-11-22", **q) == on_22nd


def test_end_of_period_before_its_start_is_an_error(client, admin, db):
    response = client.get("/admin/audit", query_string={"date_from": "2026-11-20",
                                                        "date_to": "2026-11-01"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "The end of the period is before its start." in body
    assert not EVENT_ROW.search(body)


# --- keyset pagination ----------------------------------------------------------------

def _follow(client, url: str) -> tuple[list[int], dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    links = {rel: html.unescape(href) for href, rel in LINK.findall(body)}
    return [int(i) for i in EVENT_ROW.findall(body)], links


def test_pages_hold_every_event_once_even_when_events_arrive_between_pages(client, admin, db):
    _write(db, "test.page", 120)
    expected = _ids(db, AuditEvent.action == "test.page")
    seen: list[int] = []
    url = "/admin/audit?action=test.page"
    pages = 0
    while url:
        ids, links = _follow(client, url)
        assert ids == sorted(ids, reverse=True)
        seen += ids
        pages += 1
        # New events arriving meanwhile do not shift what the next page shows.
        _write(db, "test.page", 7)
        url = links.get("next")
        if url:
            query = parse_qs(urlsplit(url).query)
            assert "before" in query and "offset" not in query and "page" not in query
            assert query["action"] == ["test.page"]  # the search is kept
    assert pages == 3
    assert seen == expected and len(set(seen)) == len(seen)


def test_newer_link_goes_back_to_the_same_page(client, admin, db):
    _write(db, "test.page", 60)
    first, links = _follow(client, "/admin/audit?action=test.page")
    second, links2 = _follow(client, links["next"])
    assert len(first) == 50 and len(second) == 10
    back, links3 = _follow(client, links2["prev"])
    assert back == first
    assert "prev" not in links3 and links3["next"] == links["next"]


# --- query count ----------------------------------------------------------------------



def _bulk_events(db, n: int, patients, actors, start: int) -> None:
    """Many events quickly (one INSERT); their chain is not the point here."""
    now = clock.now()
    db.session.execute(insert(AuditEvent), [
        {"created_at": now, "actor_id": actors[i % len(actors)].id,
         "actor_email": actors[i % len(actors)].email, "action": f"test.bulk{i % 7}",
         "patient_id": patients[i % len(patients)].patient.id, "ip": "10.0.0.1",
         "detail": f'{{"i": {i}}}', "prev_hash": "0" * 64, "hash": f"{start + i:064x}"}
        for i in range(n)])
    db.session.commit()


def test_query_count_does_not_grow_with_the_log(client, admin, db):
    patients = [make_patient() for _ in range(12)]
    actors = [make_practitioner() for _ in range(6)]
    _bulk_events(db, 10, patients, actors, start=1)
    queries_for(db, client, "/admin/audit")  # warm up (settings row, session touch)
    small = queries_for(db, client, "/admin/audit")
    _bulk_events(db, 990, patients, actors, start=10_000)
    large = queries_for(db, client, "/admin/audit")
    assert large == small
    # And the same on a later page, with a search.
    assert queries_for(db, client, "/admin/audit?actor=example&before=500") == small


# --- verifying the chain --------------------------------------------------------------

def _verified_events(db) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action ==
                                                            "audit.verified")))


def test_verify_reports_an_intact_chain_and_is_logged(client, admin, db):
    _write(db, "test.chain", 4)
    checked = len(_ids(db))
    response = client.post("/admin/audit/verify")
    assert response.status_code == 303 and response.location.endswith("/admin/audit")
    page = client.get(response.location).get_data(as_text=True)
    assert f"The audit log is intact: {checked} events checked." in page
    [verified] = _verified_events(db)
    assert verified.actor_id == admin.id and '"ok": true' in verified.detail
    assert audit.verify_chain().ok


def test_verify_needs_the_csrf_token(client, admin, db):
    client.get("/admin/audit")
    assert client.post("/admin/audit/verify", csrf=False).status_code == 400
    assert _verified_events(db) == []


@pytest.fixture
def tamper(db):
    """Lift the append-only trigger as an attacker with database access could; put it back
    afterwards on PostgreSQL, whose test database the whole run shares."""
    db.session.rollback()
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(text("DROP TRIGGER audit_events_no_update"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        if postgres:
            db.session.execute(text(
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
            db.session.commit()


def test_verify_shows_the_first_altered_event(client, admin, db, tamper):
    ids = _write(db, "test.chain", 5)
    good_before = len(_ids(db, AuditEvent.id < ids[2]))
    db.session.execute(text("UPDATE audit_events SET subject = 'covered' WHERE id = :id"),
                       {"id": ids[2]})
    db.session.commit()
    response = client.post("/admin/audit/verify", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (f"The audit log has been altered: event {ids[2]} does not match the chain "
            f"({good_before} events before it checked and intact).") in html.unescape(page)
    [verified] = _verified_events(db)
    assert f'"first_bad_id": {ids[2]}' in verified.detail and '"ok": false' in verified.detail


# --- CSV export -----------------------------------------------------------------------

def test_csv_export_is_streamed_neutralised_filtered_and_logged(client, admin, db):
    sly = make_patient(name="=HYPERLINK(\"http://evil\")", email="sly@example.org")
    for subject in ("=1+2", "+SUM(A1)", "-3", "@cmd", "\tTAB", "\rCR", "plain"):
        audit.write("test.csv", patient=sly.patient, subject=subject)
    db.session.commit()
    _write(db, "test.other", 2)

    response = client.get("/admin/audit.csv", query_string={"action": "test.csv"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "time", "actor_email", "actor_name", "action"]
    assert [int(r[0]) for r in body] == _ids(db, AuditEvent.action == "test.csv")
    subjects = [r[header.index("subject")] for r in body]
    assert subjects == ["plain", "'\rCR", "'\tTAB", "'@cmd", "'-3", "'+SUM(A1)", "'=1+2"]
    assert {r[header.index("patient_name")] for r in body} == {"'=HYPERLINK(\"http://evil\")"}
    assert {r[header.index("patient_id")] for r in body} == {
        csvexport.csv_safe(sly.patient.public_id)}
    # Times are on the clinic's clock, with their offset.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d",
                        body[0][header.index("time")])

    db.session.expire_all()
    [exported] = db.session.scalars(select(AuditEvent)
                                    .where(AuditEvent.action == "audit.exported")).all()
    assert exported.actor_id == admin.id and '"action": "test.csv"' in exported.detail
    assert audit.verify_chain().ok


def test_csv_of_an_invalid_search_is_refused(client, admin, db):
    response = client.get("/admin/audit.csv", query_string={"date_from": "yesterday"})
    assert response.status_code == 400
    assert _ids(db, AuditEvent.action == "audit.exported") == []


# --- who may see it -------------------------------------------------------------------

@pytest.mark.parametrize("role", ["patient", "practitioner"])
def test_everyone_but_admins_gets_404(client, auth, db, role):
    user = make_patient() if role == "patient" else make_practitioner()
    assert auth.login(user).status_code == 303
    assert client.get("/admin/audit").status_code == 404
    assert client.get("/admin/audit.csv").status_code == 404
    assert client.post("/admin/audit/verify").status_code == 404
    assert _ids(db, AuditEvent.action.in_(("audit.exported", "audit.verified"))) == []
