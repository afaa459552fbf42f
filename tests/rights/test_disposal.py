"""Disposal at the end of the retention period (SPEC 11.2): nothing of the patient remains
but the tombstone and the audit trail, in any table (every table of the schema is looked
at, so a table added later needs a decision here), in the documents storage, the patient
list, the worklist, the chart and the exports; approval needs the count typed or a second
admin; a legal hold blocks it, even one placed while the admin confirms."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, func, or_, select, update

from portal import clock, crypto, session_store, storage
from portal.clinic.chart import services as chart
from portal.models import (
    AccountToken,
    AuditEvent,
    BrowserSession,
    Document,
    IntakeAmendment,
    IntakeResponse,
    IntakeStash,
    OutboxMessage,
    Patient,
    RecordDisposal,
    RecordRequest,
    RecoveryCode,
    StoredChunk,
    User,
    UserSession,
)
from portal.rights import disposal, retention
from tests.conftest import CSRFClient
from tests.factories import (
    PASSWORD,
    make_admin,
    make_document,
    make_follow_up,
    make_practitioner,
    totp_code,
)
from tests.treatment.helpers import history, make_treatable, raise_alert, record

NAME = "Dorothea Quillfeather"
EMAIL = "dorothea.quillfeather@example.org"

# What disposal does to each table of the schema; a table in none of these fails the test,
# so a table added later needs a decision here. Every "deleted" table is filled for the
# patient by ``rich_patient`` (checked before the disposal) and holds none of those rows
# after it.
DELETED = {
    "account_tokens", "consent_discussions", "consent_signatures", "documents", "follow_ups",
    "intake_amendments", "intake_responses", "intake_stashes", "outcome_points",
    "recovery_codes", "safety_reports", "session_ratings", "treatment_outcomes",
    "treatment_sessions", "user_sessions",
    "browser_sessions",  # no column names the user: found by the sign-in each carries
    "outbox_messages",  # found by address
    "stored_chunks",  # the documents' blobs, found by key
}
KEPT = {
    "patients": "the row stays, scrubbed (the audit trail refers to it)",
    "users": "the row stays, scrubbed",
    "record_disposals": "the tombstone",
    "record_requests": "the dates; the free text blanked",
    "audit_events": "the audit trail, append-only",
}
UNRELATED = {
    "clinic_settings": "the clinic's own",
    "privacy_incidents": "the clinic's register; names records by public id only",
    "privacy_incident_versions": "the same register's history",
}


def login(client, user: User) -> None:
    """Sign in, with the second step's code at the portal's clock (moved years ahead)."""
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    if user.totp_secret_plain and "/auth/mfa" in response.location:
        response = client.post("/auth/mfa", data={"code": totp_code(user)})
    assert response.status_code == 303 and "/auth/" not in response.location


def _signed_in(app, user: User) -> CSRFClient:
    app.test_client_class = CSRFClient
    client = app.test_client()
    login(client, user)
    return client


def discharged(db, user: User) -> User:
    """The patient discharged (a record in care is never listed)."""
    chart.discharge(db.session.get(Patient, user.patient.id), make_practitioner(),
                    "completed")
    return db.session.get(User, user.id)


def rich_patient(app, db) -> User:
    """A patient with something in every table a patient can reach, discharged."""
    user = make_treatable(name=NAME, email=EMAIL)  # intake, consent, discussion, clearance
    make_document(user, kind="imaging", name="mri-report.pdf")
    history(user, [6, 5, 4, 3])  # sessions, ratings, outcome and its points
    raise_alert(record(user, hours_ago=2))
    patient = db.session.get(Patient, user.patient.id)
    make_follow_up(patient)
    staff = make_practitioner()
    response = db.session.scalar(select(IntakeResponse)
                                 .where(IntakeResponse.patient_id == patient.id))
    amendment = IntakeAmendment(response_id=response.id, step=1, author_id=staff.id,
                                reason="Phone number typed wrong.", changes={"phone": "1"},
                                previous={"phone": "2"}, created_at=clock.now())
    db.session.add(amendment)
    db.session.flush()
    db.session.add_all([
        IntakeStash(patient_id=patient.id, step=2, revision=1, payload=b"stashed answers",
                    created_at=clock.now()),
        RecordRequest(patient_id=patient.id, kind="correction", channel="portal",
                      subject="phone", detail=f"My phone is wrong, {NAME}",
                      received_at=clock.now(), due_at=clock.now() + timedelta(days=30),
                      answered_at=clock.now(), answered_by_id=staff.id, outcome="amended",
                      response="Corrected.", amendment_id=amendment.id),
        RecoveryCode(user_id=user.id, code_hash="0" * 64),
        AccountToken(user_id=user.id, purpose="reset", token_hash=crypto.token_hash("t"),
                     created_at=clock.now(), expires_at=clock.now() + timedelta(days=1)),
        OutboxMessage(kind="password_reset", to_addr=EMAIL, subject="Reset",
                      body_text=f"Hello {NAME}", created_at=clock.now(),
                      next_attempt_at=clock.now()),
    ])
    db.session.commit()
    return discharged(db, user)


def _listed_after_retention(db, patient: Patient) -> RecordDisposal:
    clock.advance(days=366 * 11)
    assert retention.list_due() >= 1
    return db.session.scalar(select(RecordDisposal)
                             .where(RecordDisposal.patient_id == patient.id))


def _blob_keys(db, patient_id: int) -> set[str]:
    keys = set()
    for row in db.session.execute(select(Document.blob_key, Document.preview_key,
                                         Document.original_key)
                                  .where(Document.patient_id == patient_id)):
        keys.update(k for k in row if k)
    return keys


def _refers(table, pid: int, uid: int) -> list:
    conditions = []
    for column in table.columns:
        for fk in column.foreign_keys:
            target = fk.column.table.name
            if target == "patients":
                conditions.append(column == pid)
            elif target == "users":
                conditions.append(column == uid)
    return conditions


def _browsers_of(db, uid: int) -> set[str]:
    hashes = set(db.session.scalars(select(UserSession.token_hash)
                                    .where(UserSession.user_id == uid)))
    return {h for h, sid in session_store.signed_in_sids()
            if sid and crypto.token_hash(sid) in hashes}


def patients_rows(db, pid: int, uid: int) -> dict[str, set]:
    """The primary keys of the patient's rows in each "deleted" table."""
    tables = db.metadata.tables
    responses = select(IntakeResponse.id).where(IntakeResponse.patient_id == pid)
    keys = _blob_keys(db, pid)
    special = {
        "intake_amendments": IntakeAmendment.response_id.in_(responses),
        "outbox_messages": OutboxMessage.to_addr == EMAIL,
        "stored_chunks": StoredChunk.key.in_(keys),
    }
    rows: dict[str, set] = {}
    for name in DELETED - {"browser_sessions"}:
        table = tables[name]
        where = special.get(name)
        if where is None:
            where = or_(*[c for c in _refers(table, pid, uid)
                          if c.left.name in ("patient_id", "user_id")])
        pk = next(iter(table.primary_key.columns))
        rows[name] = set(db.session.scalars(select(pk).where(where)))
    rows["browser_sessions"] = _browsers_of(db, uid)
    return rows


def assert_nothing_left(db, pid: int, uid: int, before: dict[str, set], keys: set[str],
                        phone: str) -> None:
    tables = db.metadata.tables
    undecided = set(tables) - DELETED - set(KEPT) - set(UNRELATED)
    assert not undecided, f"tables without a decision in this test: {undecided}"
    for name in DELETED:
        table = tables[name]
        pk = next(iter(table.primary_key.columns))
        left = db.session.scalar(select(func.count()).select_from(table)
                                 .where(pk.in_(before[name])))
        assert left == 0, f"{name}: {left} of the patient's rows left"
        for condition in _refers(table, pid, uid):
            count = db.session.scalar(select(func.count()).select_from(table).where(condition))
            assert count == 0, f"{name}.{condition.left.name} still refers to the patient"
    # Nothing that names the person, in any text column of any table but the audit trail.
    for name, table in tables.items():
        if name == "audit_events":
            continue
        for column in table.columns:
            if isinstance(column.type, (String, Text)) and not isinstance(
                    column.type, (LargeBinary, JSON)):
                for needle in (NAME.split()[1], EMAIL.split("@")[0], phone):
                    found = db.session.scalar(select(func.count()).select_from(table).where(
                        func.lower(column).like(f"%{needle.lower()}%")))
                    assert not found, f"{name}.{column.name} still holds {needle!r}"
    assert not keys & storage.get_storage().keys(), "stored files left"
    user = db.session.get(User, uid)
    patient = db.session.get(Patient, pid)
    assert user.email.startswith("disposed-") and user.email.endswith("@invalid.example")
    assert (user.name, user.password_hash, user.totp_secret, user.active) == ("", None, None,
                                                                             False)
    assert (patient.status, patient.phone, patient.date_of_birth, patient.search_text,
            patient.pain_change) == ("disposed", None, None, "", None)
    # Nothing of the care either: who treated them, why they left, what they chose.
    assert (patient.practitioner_id, patient.discharge_reason, patient.follow_ups_declined_at,
            patient.account_closed_at, patient.legal_hold_reason, patient.legal_hold_at,
            patient.legal_hold_by_id) == (None,) * 7
    assert patient.disposed_at is not None and patient.last_activity_at == patient.disposed_at
    request = db.session.scalar(select(RecordRequest).where(RecordRequest.patient_id == pid))
    assert (request.subject, request.detail, request.response, request.amendment_id) == (
        None, None, None, None)
    assert request.received_at is not None and request.answered_at is not None


def test_disposal_leaves_nothing_but_the_tombstone_and_the_audit_trail(app, db, client):
    user = rich_patient(app, db)
    pid, uid = user.patient.id, user.id
    phone = user.patient.phone
    assert phone and user.patient.date_of_birth
    keys = _blob_keys(db, pid)
    assert keys and keys <= storage.get_storage().keys()
    listed = _listed_after_retention(db, user.patient)
    _signed_in(app, user)  # a browser signed in now: user_sessions and browser_sessions rows
    # What the patient chose: no follow-ups, their account closed (SPEC 12.1, 11.1).
    db.session.get(Patient, pid).follow_ups_declined_at = clock.now()
    db.session.get(Patient, pid).account_closed_at = clock.now()
    db.session.commit()
    before = patients_rows(db, pid, uid)
    empty = sorted(name for name, rows in before.items() if not rows)
    assert not empty, f"the fixture put nothing in {empty}"
    events_before = db.session.scalar(select(func.count()).where(AuditEvent.patient_id == pid))

    admin = make_admin(name="Ada Admin")
    login(client, admin)
    assert client.get("/admin/retention").status_code == 200
    response = client.post("/admin/retention/approve", data={
        "records": [listed.public_id], "method": "typed", "count": "1"})
    assert response.status_code == 303

    db.session.expire_all()
    assert_nothing_left(db, pid, uid, before, keys, phone)
    tombstone = db.session.get(RecordDisposal, listed.id)
    assert (tombstone.status, tombstone.confirmation, tombstone.approved_by_id,
            tombstone.confirmed_by_id) == ("disposed", "typed_count", admin.id, admin.id)
    assert tombstone.patient_public_id == user.patient.public_id
    # The audit trail is whole, with the disposal at its end, and its chain intact.
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == pid)
                                .order_by(AuditEvent.id)).all()
    assert len(events) == events_before + 1 and events[-1].action == "record.disposed"
    from portal import audit
    assert audit.verify_chain().ok

    # Nowhere to be seen: list, search, worklist, chart, exports, outcomes.
    public_id = user.patient.public_id
    for path in ("/clinic/patients/", "/clinic/patients/?q=disposed",
                 "/clinic/patients/?q=invalid.example", "/clinic/", "/clinic/outcomes",
                 "/clinic/outcomes.csv"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert public_id not in page.get_data(as_text=True), path
    for path in ("/", "fhir.json", "summary", "ratings", "activity", "legal-hold"):
        url = f"/clinic/patients/{public_id}/{'' if path == '/' else path}"
        assert client.get(url).status_code == 404, url
    page = client.get("/admin/retention").get_data(as_text=True)
    assert public_id in page and "Ada Admin" in page and NAME not in page


@pytest.fixture
def app_config(request, tmp_path):
    """The database storage unless a test asks for another (``indirect`` parameter)."""
    if getattr(request, "param", None) == "directory":
        return {"DOCUMENT_STORAGE": "directory", "DOCUMENT_DIR": str(tmp_path / "documents")}
    return {}


@pytest.mark.parametrize("app_config", ["directory"], indirect=True)
def test_the_files_are_gone_from_a_directory_storage(app, db):
    user = make_treatable(name=NAME, email=EMAIL)
    make_document(user, kind="imaging", name="mri-report.pdf")
    keys = _blob_keys(db, user.patient.id)
    root = Path(app.config["DOCUMENT_DIR"])
    on_disk = {p.name for p in root.rglob("*") if p.is_file()}
    assert keys and all(any(key in name for name in on_disk) for key in keys)
    user = discharged(db, user)
    listed = _listed_after_retention(db, user.patient)
    admin = make_admin()
    assert disposal.approve_typed(admin, [listed], 1).done == 1
    left = [p for p in root.rglob("*") if p.is_file() and any(k in p.name for k in keys)]
    assert left == []


# --- approving ----------------------------------------------------------------------------

def _two_listed(db):
    users = [discharged(db, make_treatable(name=f"Old Patient {i}")) for i in range(2)]
    clock.advance(days=366 * 11)
    retention.list_due()
    return users, [db.session.scalar(select(RecordDisposal).where(
        RecordDisposal.patient_id == u.patient.id)) for u in users]


def _statuses(db, rows) -> list[str]:
    db.session.expire_all()
    return [db.session.get(RecordDisposal, r.id).status for r in rows]


def test_a_wrong_count_is_refused_and_changes_nothing(app, db, client):
    users, rows = _two_listed(db)
    login(client, make_admin())
    for count in ("1", "", "3", "two"):
        response = client.post("/admin/retention/approve", data={
            "records": [r.public_id for r in rows], "method": "typed", "count": count})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert 'id="disposal-count-error"' in page
        assert page.count(" checked") >= 2  # the ticks are kept
    assert _statuses(db, rows) == ["listed", "listed"]
    assert all(db.session.get(Patient, u.patient.id).status != "disposed" for u in users)
    # Nothing ticked: said so; an id that is no disposal: 404.
    response = client.post("/admin/retention/approve", data={"method": "typed", "count": "0"})
    assert response.status_code == 422
    assert client.post("/admin/retention/approve", data={
        "records": ["nope"], "method": "typed", "count": "1"}).status_code == 404


def test_a_second_admin_confirms_and_the_first_cannot(app, db, client):
    users, rows = _two_listed(db)
    first, second = make_admin(name="First Admin"), make_admin(name="Second Admin")
    login(client, first)
    assert client.post("/admin/retention/approve", data={
        "records": [r.public_id for r in rows], "method": "second"}).status_code == 303
    assert _statuses(db, rows) == ["approved", "approved"]
    response = client.post("/admin/retention/confirm",
                           data={"records": [rows[0].public_id]})
    assert response.status_code == 422
    assert "another administrator must confirm" in response.get_data(as_text=True)
    assert _statuses(db, rows) == ["approved", "approved"]

    client.post("/auth/logout")
    login(client, second)
    page = client.get("/admin/retention").get_data(as_text=True)
    assert "First Admin" in page
    assert client.post("/admin/retention/confirm",
                       data={"records": [rows[0].public_id]}).status_code == 303
    assert _statuses(db, rows) == ["disposed", "approved"]
    tombstone = db.session.get(RecordDisposal, rows[0].id)
    assert (tombstone.approved_by_id, tombstone.confirmed_by_id, tombstone.confirmation) == (
        first.id, second.id, "second_admin")
    assert db.session.get(Patient, users[0].patient.id).status == "disposed"
    # The other approval is withdrawn: back on the list.
    assert client.post("/admin/retention/withdraw",
                       data={"records": [rows[1].public_id]}).status_code == 303
    assert _statuses(db, rows) == ["disposed", "listed"]


def test_a_legal_hold_blocks_disposal(app, db, client):
    users, rows = _two_listed(db)
    first, second = make_admin(), make_admin()
    login(client, first)
    client.post("/admin/retention/approve", data={
        "records": [r.public_id for r in rows], "method": "second"})
    # A practitioner places a hold on the first from the chart: its approval is cancelled.
    staff = _signed_in(app, make_practitioner())
    chart = f"/clinic/patients/{users[0].patient.public_id}/legal-hold"
    assert staff.post(chart, data={"reason": ""}).status_code == 422
    assert staff.post(chart, data={"reason": "Claim by the insurer."}).status_code == 303
    assert staff.post(chart + "/lift").status_code == 404  # only an admin lifts it (SPEC 1.5)
    assert _statuses(db, rows) == ["cancelled", "approved"]
    # A hold set while the second admin confirms (no cancelled listing yet): the check
    # under the patient's lock still refuses.
    db.session.get(Patient, users[1].patient.id).legal_hold = True
    db.session.commit()
    client.post("/auth/logout")
    login(client, second)
    response = client.post("/admin/retention/confirm",
                           data={"records": [r.public_id for r in rows]})
    assert response.status_code == 303
    assert _statuses(db, rows) == ["cancelled", "cancelled"]
    assert [db.session.get(Patient, u.patient.id).status for u in users] != ["disposed"] * 2
    assert all(db.session.get(Patient, u.patient.id).status != "disposed" for u in users)
    assert db.session.scalar(select(func.count()).where(
        AuditEvent.action == "patient.legal_hold_placed")) == 1
    # An admin lifts the hold from the chart's page.
    page = client.get(chart).get_data(as_text=True)
    assert "Claim by the insurer." in page and "Lift the legal hold" in page
    assert client.post(chart + "/lift").status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, users[0].patient.id).legal_hold is False


def test_a_patient_back_since_the_listing_is_not_disposed_of(app, db, client):
    """Re-admitted after the listing, with no session yet: the page says so and does not
    tick it; the disposal checks the same rule as the listing, under the patient's lock,
    and cancels the listing."""
    users, rows = _two_listed(db)
    chart.readmit(db.session.get(Patient, users[0].patient.id), make_practitioner())
    admin = make_admin()
    login(client, admin)
    page = client.get("/admin/retention").get_data(as_text=True)
    assert page.count("Seen again since the listing") == 1
    assert "Cleared" in page and "Discharged" in page  # where each stands
    ticks = {r.public_id: f'value="{r.public_id}" id="listed-{r.public_id}" checked'
             for r in rows}
    assert ticks[rows[0].public_id] not in page and ticks[rows[1].public_id] in page
    outcome = disposal.approve_typed(admin, rows, 2)
    assert (outcome.done, outcome.skipped) == (1, 1)
    assert _statuses(db, rows) == ["cancelled", "disposed"]
    assert db.session.get(Patient, users[0].patient.id).status == "cleared"


def test_the_second_admin_rule_is_checked_under_the_lock(app, db):
    """What the second admin's page showed is stale: the approval was withdrawn and given
    again, by that same admin. Read again under the lock, it is their own: not confirmed,
    and who approved is not overwritten."""
    users, rows = _two_listed(db)
    first, second = make_admin(), make_admin()
    assert disposal.ask_second_admin(first, rows).done == 2
    seen = disposal.pending([r.public_id for r in rows])
    assert [d.approved_by_id for d in seen] == [first.id, first.id]
    db.session.execute(update(RecordDisposal).where(RecordDisposal.id == rows[0].id)
                       .values(approved_by_id=second.id)
                       .execution_options(synchronize_session=False))
    outcome = disposal.confirm(second, seen)
    assert (outcome.done, outcome.skipped) == (1, 1)
    assert _statuses(db, rows) == ["approved", "disposed"]
    assert db.session.get(RecordDisposal, rows[0].id).approved_by_id == second.id
    assert db.session.get(Patient, users[0].patient.id).status != "disposed"


def test_a_hold_is_checked_when_asking_a_second_admin(app, db):
    """A hold set without the chart's service (no listing cancelled): approving checks it
    under the patient's lock, and cancels the listing."""
    users, rows = _two_listed(db)
    db.session.get(Patient, users[0].patient.id).legal_hold = True
    db.session.commit()
    outcome = disposal.ask_second_admin(make_admin(), rows)
    assert (outcome.done, outcome.skipped) == (1, 1)
    assert _statuses(db, rows) == ["cancelled", "approved"]


def test_an_address_in_another_case_and_a_revoked_sign_in_s_browser_go_too(app, db):
    """An older message to the address typed in another case names the patient as well;
    a browser still carrying a sign-in that was revoked (signed out elsewhere, a password
    change) holds its encrypted data until it expires: both go with the record."""
    user = rich_patient(app, db)
    pid, uid = user.patient.id, user.id
    listed = _listed_after_retention(db, user.patient)
    _signed_in(app, user)  # this browser's sign-in is revoked below
    _signed_in(app, user)
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == uid)
                             .order_by(UserSession.id)).first()
    row.revoked_at = clock.now()
    mixed = EMAIL.upper()
    db.session.add(OutboxMessage(kind="password_reset", to_addr=mixed, subject="Reset",
                                 body_text=f"Hello {NAME}", created_at=clock.now(),
                                 next_attempt_at=clock.now()))
    db.session.commit()
    browsers = _browsers_of(db, uid)
    assert len(browsers) == 2
    assert disposal.approve_typed(make_admin(), [listed], 1).done == 1
    db.session.expire_all()
    assert db.session.get(Patient, pid).status == "disposed"
    assert db.session.scalar(select(func.count()).where(
        func.lower(OutboxMessage.to_addr) == EMAIL)) == 0
    left = set(db.session.scalars(select(BrowserSession.id_hash)
                                  .where(BrowserSession.id_hash.in_(browsers))))
    assert left == set(), "a browser session of the patient's survived"
