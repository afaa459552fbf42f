"""The requests register (SPEC 11.2): every access and correction request with received, due
and answered dates in the clinic's time zone; filters, pages and CSV; requests received
outside the portal; access requests answered; a due date extended once; overdue ones on the
admin home."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from portal import clock
from portal.clinic_settings import current_settings
from portal.csvexport import csv_safe
from portal.extensions import db as _db
from portal.models import AuditEvent, OutboxMessage, RecordRequest
from portal.rights import correcting
from portal.rights import requests as register
from portal.rights.dates import due_at_for
from portal.treatment.times import clinic_date, clinic_datetime
from tests.factories import make_admin, make_patient, make_practitioner


@pytest.fixture
def vancouver(db):
    current_settings().timezone = "America/Vancouver"
    _db.session.commit()


@pytest.fixture
def admin(auth, vancouver):
    user = make_admin()
    auth.login(user)
    return user


def _access(patient_user, received_at=None) -> RecordRequest:
    received_at = received_at or clock.now()
    req = RecordRequest(patient_id=patient_user.patient.id, kind="access", channel="portal",
                        received_at=received_at, due_at=due_at_for(received_at))
    _db.session.add(req)
    _db.session.commit()
    return req


def _reload(req: RecordRequest) -> RecordRequest:
    _db.session.expire_all()
    return _db.session.get(RecordRequest, req.id)


def test_only_admins_see_the_register(auth, client, vancouver):
    auth.login(make_practitioner())
    assert client.get("/admin/requests").status_code == 404
    assert client.get("/admin/requests.csv").status_code == 404


def test_the_register_lists_both_kinds_with_their_dates_and_filters(admin, client):
    nora, omar = make_patient(name="Nora Quinn"), make_patient(name="Omar Reyes")
    old = _access(nora, clock.now() - timedelta(days=40))
    correction = correcting.request_correction(omar.patient, omar, None, "Wrong doctor")
    page = client.get("/admin/requests").get_data(as_text=True)
    assert "Nora Quinn" in page and "Omar Reyes" in page
    assert nora.patient.public_id in page
    assert page.index("Omar Reyes") < page.index("Nora Quinn")  # newest first
    assert "Overdue" in page
    page = client.get("/admin/requests?state=overdue").get_data(as_text=True)
    assert "Nora Quinn" in page and "Omar Reyes" not in page
    page = client.get("/admin/requests?kind=correction&state=all").get_data(as_text=True)
    assert "Omar Reyes" in page and "Nora Quinn" not in page
    # A value that is not a choice is the default, never an error.
    assert client.get("/admin/requests?state=bogus&kind=<x>").status_code == 200
    register.mark_provided(admin, _reload(old), date.today())
    page = client.get("/admin/requests").get_data(as_text=True)  # open only
    assert "Nora Quinn" not in page and "Omar Reyes" in page
    assert correction.public_id in client.get("/admin/requests?state=all").get_data(
        as_text=True)


def test_pages_cost_the_same_number_of_queries(admin, client, app):
    people = [make_patient() for _ in range(4)]
    for person in people:
        _access(person)

    def count(url: str) -> int:
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        return len(statements)

    few = count("/admin/requests")
    for _ in range(12):
        _access(make_patient())
    assert count("/admin/requests") == few


def test_paging(admin, client, monkeypatch):
    monkeypatch.setattr(register, "PAGE_SIZE", 2)
    names = ["Ann One", "Bob Two", "Cy Three"]
    for n, name in enumerate(names):
        _access(make_patient(name=name), clock.now() - timedelta(days=3 - n))
    rows, more = register.register_page(register.Filters("all"), 1, 2)
    assert [r.patient.user.name for r in rows] == ["Cy Three", "Bob Two"] and more
    rows, more = register.register_page(register.Filters("all"), 2, 2)
    assert [r.patient.user.name for r in rows] == ["Ann One"] and not more


def test_csv_in_the_clinics_time_zone(admin, client):
    nora = make_patient(name="=Nora Quinn")
    # A public id may begin with "-" (URL-safe base64), one in 64: this one does, every run.
    nora.patient.public_id = "-" + nora.patient.public_id[1:]
    _db.session.commit()
    # 06:30 UTC on 21 February 2026 is 22:30 on 20 February in Vancouver.
    req = _access(nora, datetime(2026, 2, 21, 6, 30, tzinfo=UTC))
    response = client.get("/admin/requests.csv?state=all")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    # The CSV guards an id beginning with "-" as any formula-like cell.
    row = next(r for r in rows if r["request"] == csv_safe(req.public_id))
    # With the offset, as the incident register's and the audit log's CSVs.
    assert row["received"] == "2026-02-20 22:30 -08:00"
    assert row["due"] == "2026-03-22 23:59 -07:00"  # 30 days on; daylight time from 8 March
    assert row["kind"] == "access" and row["patient"] == csv_safe(nora.patient.public_id)
    assert row["name"] == "'=Nora Quinn"  # not a formula
    assert row["answered"] == "" and row["outcome"] == ""
    assert _db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "requests.exported")) is not None


def test_a_request_received_by_mail_is_entered_with_its_date(admin, client):
    nora = make_patient(name="Nora Quinn")
    today = clock.now().astimezone(UTC).date()
    received = today - timedelta(days=5)
    data = {"patient": "Nobody Here", "kind": "access", "received_on": received.isoformat(),
            "detail": "Asked by letter for a copy."}
    response = client.post("/admin/requests/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="patient-error"' in page and "Asked by letter for a copy." in page
    future = {**data, "patient": nora.patient.public_id,
              "received_on": (today + timedelta(days=3)).isoformat()}
    assert client.post("/admin/requests/new", data=future).status_code == 422
    response = client.post("/admin/requests/new", data={**data, "patient": "nora quinn"})
    assert response.status_code in (302, 303)
    req = _db.session.scalars(select(RecordRequest)).one()
    assert req.channel == "clinic" and req.kind == "access" and req.patient_id == nora.patient.id
    assert req.due_at == due_at_for(req.received_at)
    assert req.received_at.astimezone(UTC).date() in (received, received + timedelta(days=1))


def test_several_patients_match_and_one_is_chosen_keeping_what_was_typed(admin, client):
    one, two = make_patient(name="Sam Lee"), make_patient(name="Sam Leblanc")
    received = (clinic_today() - timedelta(days=3)).isoformat()
    typed = {"patient": "sam le", "kind": "correction", "received_on": received,
             "detail": "The address on file is wrong."}
    response = client.post("/admin/requests/new", data=typed)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    start = page.index('<form class="card"')
    form = page[start:page.index("</form>", start)]
    # The candidates are choices inside the form that holds what was typed.
    for person in (one, two):
        assert re.search(rf'<input[^>]*name="chosen"[^>]*type="radio"[^>]*'
                         rf'value="{person.patient.public_id}"', form)
    assert "The address on file is wrong." in form and f'value="{received}"' in form
    response = client.post("/admin/requests/new",
                           data={**typed, "chosen": two.patient.public_id})
    assert response.status_code in (302, 303)
    req = _db.session.scalars(select(RecordRequest)).one()
    assert req.patient_id == two.patient.id and req.kind == "correction"
    assert req.detail == "The address on file is wrong."
    assert clinic_date(req.received_at).isoformat() == received


def clinic_today():
    return clinic_date(clock.now())


def _error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert match, f"no error beside {field_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("\u00a0", " ")


def test_a_record_is_not_given_before_the_request_was_received(admin, client):
    received = datetime.combine(clinic_today() - timedelta(days=2), time(15, 0))
    req = _access(make_patient(), clinic_datetime(received.date(), received.time()))
    url = f"/admin/requests/{req.public_id}/provided"
    day_before = (received.date() - timedelta(days=1)).isoformat()
    response = client.post(url, data={"provided_on": day_before})
    assert response.status_code == 422
    assert "cannot have been given before the request was received" in _error(
        response.get_data(as_text=True), "provided_on")
    assert _reload(req).answered_at is None
    # Given the day it came in (stamped at noon otherwise): never before it came in.
    assert client.post(url, data={"provided_on": received.date().isoformat()}
                       ).status_code in (302, 303)
    req = _reload(req)
    assert req.answered_at >= req.received_at


def test_an_access_request_is_answered_once(admin, client):
    req = _access(make_patient())
    url = f"/admin/requests/{req.public_id}"
    assert client.post(url + "/provided", data={"provided_on": ""}).status_code == 422
    today = clock.now().date().isoformat()
    assert client.post(url + "/provided", data={"provided_on": today}).status_code in (302, 303)
    req = _reload(req)
    assert req.outcome == "provided" and req.answered_by_id == admin.id
    first = req.answered_at
    response = client.post(url + "/provided", data={"provided_on": today},
                           follow_redirects=True)
    assert "already answered" in response.get_data(as_text=True)
    assert _reload(req).answered_at == first
    # A correction is answered in the chart, not marked "provided".
    patient = make_patient()
    correction = correcting.request_correction(patient.patient, patient, None, "x")
    assert client.post(f"/admin/requests/{correction.public_id}/provided",
                       data={"provided_on": today}).status_code == 404


def test_a_due_date_is_extended_once_and_the_patient_is_told(admin, client):
    nora = make_patient()
    req = _access(nora)
    url = f"/admin/requests/{req.public_id}"
    assert client.post(url + "/extend", data={"reason": ""}).status_code == 422
    response = client.post(url + "/extend", data={"reason": "Records are in storage."})
    assert response.status_code in (302, 303)
    req = _reload(req)
    assert req.extended_due_at == due_at_for(req.received_at, 60)
    assert req.due == req.extended_due_at
    message = _db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "request_extended")).one()
    assert message.to_addr == nora.email and "Records are in storage." in message.body_text
    assert _extended_events() == [{"kind": "access", "emailed": True}]
    response = client.post(url + "/extend", data={"reason": "Again"}, follow_redirects=True)
    assert "extended once" in response.get_data(as_text=True)
    assert _reload(req).extension_reason == "Records are in storage."


def _extended_events() -> list[dict]:
    return [json.loads(e.detail) for e in _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.extended")
        .order_by(AuditEvent.id))]


def test_a_due_date_is_not_extended_once_it_has_passed(admin, client):
    req = _access(make_patient(), clock.now() - timedelta(days=32))
    url = f"/admin/requests/{req.public_id}"
    page = client.get(url).get_data(as_text=True)
    assert "can no longer be extended" in page and "Extend by 30 days" not in page
    response = client.post(url + "/extend", data={"reason": "Records are in storage."})
    assert response.status_code == 422
    assert "PHIPA s. 54(3)" in _error(response.get_data(as_text=True), "reason")
    req = _reload(req)
    assert req.extended_due_at is None and req.extension_reason is None
    assert _extended_events() == []
    assert _db.session.scalars(select(OutboxMessage)).all() == []
    # The service says so too, whatever the form.
    with pytest.raises(register.TooLate):
        register.extend(admin, req, "Late")


@pytest.mark.parametrize("why", ["inactive", "closed"])
def test_an_extension_no_e_mail_can_tell_asks_for_notice_another_way(admin, client, why):
    nora = make_patient()
    if why == "inactive":
        nora.active = False
    else:
        nora.patient.account_closed_at = clock.now()
    _db.session.commit()
    req = _access(nora)
    response = client.post(f"/admin/requests/{req.public_id}/extend",
                           data={"reason": "Records are in storage."}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The patient is told by e-mail" not in page
    assert "send them written notice of the extension and its reason another way" in page
    assert _reload(req).extended_due_at is not None
    assert _db.session.scalars(select(OutboxMessage)).all() == []
    assert _extended_events() == [{"kind": "access", "emailed": False}]


def test_an_unknown_request_is_not_found(admin, client):
    assert client.get("/admin/requests/nope").status_code == 404
    assert client.post("/admin/requests/nope/extend", data={"reason": "abc"}).status_code == 404


def test_overdue_requests_on_the_admin_home(admin, client):
    _access(make_patient())
    page = client.get("/admin/").get_data(as_text=True)
    assert "request overdue" not in page and "/admin/requests" in page
    _access(make_patient(), clock.now() - timedelta(days=31))
    page = client.get("/admin/").get_data(as_text=True)
    assert "1 request overdue" in page
    assert "/admin/requests?state=overdue" in page
    assert register.overdue_count() == 1
