"""Every streamed download, fetched from a real gunicorn by a real HTTP client to its last
byte: the audit log's CSV (SPEC 7.1), the clinic's outcomes CSV (SPEC 5.4) and a document's
file (SPEC 3.2). Each holds more than one batch of its generator, so the generator keeps
reading the database after the request's context was torn down, as it does in production
and never does under Flask's test client."""
from __future__ import annotations

import csv
import io

from sqlalchemy import insert, select

from portal import audit, clock, csvexport, storage
from portal.clinic.outcomes import services as outcome_stats
from portal.extensions import db
from portal.models import AuditEvent, Patient
from tests import served
from tests.factories import make_admin, make_document, make_patient, make_practitioner
from tests.queries import grow_to
from tests.served import app_config  # noqa: F401  (the app shares the server's key)

pytestmark = served.needs_gunicorn


def _csv(answer: served.Answer) -> list[list[str]]:
    assert answer.status == 200, answer.text[:500]
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(answer.body.decode("utf-8-sig"), newline="")))


def _bulk_audit(n: int, patient: Patient, actor) -> None:
    """Many events at once (one INSERT); their chain is not the point here."""
    now = clock.now()
    db.session.execute(insert(AuditEvent), [
        {"created_at": now, "actor_id": actor.id, "actor_email": actor.email,
         "action": f"test.bulk{i % 3}", "patient_id": patient.id, "ip": "10.0.0.1",
         "subject": f"=cell{i}", "detail": f'{{"i": {i}}}', "prev_hash": "0" * 64,
         "hash": f"{i:064x}"} for i in range(n)])
    db.session.commit()


def test_audit_csv_is_whole_over_gunicorn(app, tmp_path):
    admin = make_admin(name="Ada Admin")
    patient = make_patient(name="Margaret Côté")
    _bulk_audit(audit.CSV_BATCH * 2 + 7, patient.patient, admin)
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        client.sign_in(admin)
        rows = _csv(client.get("/admin/audit.csv"))
        by_action = _csv(client.get("/admin/audit.csv", {"action": "test.bulk1"}))
    header, body = rows[0], rows[1:]
    assert header == audit.CSV_HEADER
    db.session.expire_all()
    every = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())))
    exports = db.session.scalars(select(AuditEvent.id)
                                 .where(AuditEvent.action == "audit.exported")).all()
    # Everything up to the second export, which the first one could not hold.
    assert [int(r[0]) for r in body] == [i for i in every if i < max(exports)]
    assert len(body) > audit.CSV_BATCH * 2
    bulk = [r for r in body if r[header.index("action")] == "test.bulk0"]
    assert {r[header.index("patient_name")] for r in bulk} == {"Margaret Côté"}
    assert {r[header.index("actor_name")] for r in bulk} == {"Ada Admin"}
    assert all(r[header.index("subject")].startswith("'=cell") for r in bulk)
    assert [int(r[0]) for r in by_action[1:]] == list(db.session.scalars(
        select(AuditEvent.id).where(AuditEvent.action == "test.bulk1")
        .order_by(AuditEvent.id.desc())))


def test_outcomes_csv_is_whole_over_gunicorn(app, tmp_path):
    doctor = make_practitioner(name="Dr. Avery Adams")
    grow_to(db, 1100, [doctor])
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        client.sign_in(doctor)
        everyone = _csv(client.get("/clinic/outcomes.csv"))
        # A period: its bounds are on the clinic's clock, read while streaming.
        period = _csv(client.get("/clinic/outcomes.csv",
                                 {"date_from": "2000-01-01", "date_to": "2100-12-31"}))
    expected = [[csvexport.csv_safe(c) for c in row.cells()]
                for row in outcome_stats.patient_outcomes(outcome_stats.OutcomeFilters())]
    assert len(expected) > outcome_stats.CSV_BATCH
    assert everyone[0] == outcome_stats.csv_header()
    assert everyone[1:] == expected
    assert period == everyone


def test_document_file_is_whole_over_gunicorn(app, tmp_path):
    """A file of three storage chunks: the first is read in the request, the others after
    it. (A preview is one small JPEG: one chunk, read in the request.)"""
    from tests.documents import files

    patient = make_patient()
    doc = make_document(patient, content=files.padded_pdf(storage.CHUNK_SIZE * 2 + 4321),
                        name="long letter.pdf")
    stored = b"".join(storage.get_storage().read(doc.blob_key))
    assert len(stored) > storage.CHUNK_SIZE * 2
    doctor = make_practitioner()
    with served.gunicorn(app, tmp_path) as base:
        client = served.HttpClient(base)
        client.sign_in(doctor)
        answer = client.get(f"/documents/{doc.public_id}/download")
    assert answer.status == 200, answer.text[:500]
    assert answer.body == stored
