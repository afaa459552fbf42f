"""Submission happens once (SPEC 2.6): a double click, a retried request or two devices at
the same moment make one submission, one audit event and one e-mail to staff. The database
decides (a conditional UPDATE), on SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, IntakeResponse, OutboxMessage, Patient
from tests.conftest import Auth, CSRFClient
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import hidden, make_intake, response_of


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "intake.submitted")),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "intake_submitted")))


def signed_in_client(app, user) -> CSRFClient:
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(user).status_code == 303
    return client


def test_two_simultaneous_submissions_make_one(app):
    doctor = make_practitioner()
    user = make_patient(name="Double Clicker")
    user.patient.practitioner_id = doctor.id
    db.session.commit()
    response = make_intake(user, submit=False)
    revision = response.revision
    clients = [signed_in_client(app, user) for _ in range(2)]  # two tabs or devices
    revisions = [hidden(c.get("/me/intake/7").get_data(as_text=True), "revision")
                 for c in clients]
    assert revisions == [str(revision)] * 2

    barrier = threading.Barrier(2)
    results: list = [None, None]

    def send(i: int) -> None:
        client = clients[i]
        client.token = client.token or client.fresh_token()
        barrier.wait()
        results[i] = client.post("/me/intake/submit", data={"revision": revisions[i]})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(r is not None for r in results), "a request did not finish"
    assert [r.status_code for r in results] == [303, 303]
    assert {urlsplit(r.location).path for r in results} == {"/me/intake/summary"}
    assert counts() == (1, 1)
    stored = db.session.get(IntakeResponse, response.id)
    assert stored.status == "submitted" and stored.revision == revision + 1
    assert db.session.get(Patient, user.patient.id).status == "intake_submitted"


def test_a_retried_submission_changes_nothing(app, client, auth):
    make_practitioner()
    user = make_patient()
    make_intake(user, submit=False)
    auth.login(user)
    revision = hidden(client.get("/me/intake/7").get_data(as_text=True), "revision")
    first = client.post("/me/intake/submit", data={"revision": revision})
    submitted_at = response_of(user).submitted_at
    again = client.post("/me/intake/submit", data={"revision": revision})
    assert first.status_code == again.status_code == 303
    assert urlsplit(again.location).path == "/me/intake/summary"
    assert counts() == (1, 1)
    assert response_of(user).submitted_at == submitted_at


def test_submitting_a_stale_review_page_is_refused(app, client, auth):
    user = make_patient()
    response = make_intake(user, submit=False)
    auth.login(user)
    stale = str(response.revision - 1)
    result = client.post("/me/intake/submit", data={"revision": stale})
    assert result.status_code == 409
    assert "This form was changed elsewhere" in result.get_data(as_text=True)
    assert response_of(user).status == "in_progress" and counts() == (0, 0)


def test_the_database_refuses_a_submitted_response_without_its_time(app):
    user = make_patient()
    response = make_intake(user, submit=False)
    response.status = "submitted"
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_intake_per_patient(app):
    user = make_patient()
    make_intake(user, submit=False)
    duplicate = IntakeResponse(patient_id=user.patient.id, definition_key="ims_intake",
                               definition_version=1, answers={}, created_at=clock.now(),
                               updated_at=clock.now())
    db.session.add(duplicate)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_clearance_accepted_before_the_intake_makes_the_patient_cleared(app):
    """A physician's clearance can be reviewed before the intake arrives; submitting the
    intake must then leave the patient cleared, not merely 'intake submitted'."""
    from tests.factories import make_document

    doctor = make_practitioner()
    user = make_patient(name="Early Letter")
    make_document(user, status="accepted", reviewer=doctor)
    make_intake(user)
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).status == "cleared"
