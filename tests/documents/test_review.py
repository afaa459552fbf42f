"""Review (SPEC 3.3): the worklist queue, accept with an optional valid-until date, reject
with a reason the patient sees, an e-mail that only says there is news, replacement of a
rejected clearance, withdrawal and removal."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.documents import services
from portal.extensions import db
from portal.models import AuditEvent, Document, OutboxMessage
from tests.conftest import Auth, CSRFClient
from tests.documents import files
from tests.documents.conftest import HX, upload
from tests.factories import make_admin, make_document, make_patient, make_practitioner
from tests.markup import parse

REASON = "This is a referral letter; we need your physician to confirm IMS is safe for you."


def staff_page(client, patient):
    return client.get(f"/clinic/patients/{patient.patient.public_id}/documents")


def accept(client, doc, valid_until="", headers=None, letter_date=None):
    """Accept ``doc`` through the form; a letter dated ten days back unless told."""
    if letter_date is None:
        letter_date = (services.today() - timedelta(days=10)).isoformat()
    return client.post(f"/clinic/documents/{doc.public_id}/accept",
                       data={f"accept-{doc.public_id}-valid_until": valid_until,
                             f"accept-{doc.public_id}-letter_date": letter_date},
                       headers=headers or {})


def reject(client, doc, reason=REASON, headers=None):
    return client.post(f"/clinic/documents/{doc.public_id}/reject",
                       data={f"reject-{doc.public_id}-reason": reason}, headers=headers or {})


def fresh(doc) -> Document | None:
    """The document as the database has it now (None once deleted)."""
    doc_id = db.inspect(doc).identity[0]  # without loading the (maybe deleted) row
    db.session.expire_all()
    return db.session.scalar(select(Document).where(Document.id == doc_id))


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- the worklist -----------------------------------------------------------------------

def test_clearances_to_review_on_the_worklist(doctor_client, patient):
    other = make_patient(name="Robert Gill")
    make_document(patient, name="letter.pdf")
    make_document(patient, content=files.jpeg(), name="page 2.jpg")
    make_document(other, kind="imaging", name="mri.pdf")  # not a clearance
    reviewed = make_patient(name="Already Done")
    make_document(reviewed, status="accepted")

    doc = parse(doctor_client.get("/clinic/").get_data(as_text=True))
    section = doc.by_id("clearances-to-review")
    assert section is not None
    html = doctor_client.get("/clinic/").get_data(as_text=True)
    queue = html[html.index('id="clearances-to-review"'):html.index('id="invite-panel"')]
    assert "Margaret Côté" in queue and "2 files" in queue
    assert "Robert Gill" not in queue and "Already Done" not in queue
    assert f"/clinic/patients/{patient.patient.public_id}/documents" in queue


def test_empty_queue(doctor_client):
    assert "No clearances are waiting for review." in doctor_client.get("/clinic/").get_data(
        as_text=True)


def test_the_worklist_fragment_is_still_the_invite_panel(doctor_client, patient):
    make_document(patient)
    fragment = doctor_client.get("/clinic/", headers=HX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="invite-panel"')


# --- the staff page ---------------------------------------------------------------------

def test_staff_page_shows_previews_and_review_forms(doctor_client, patient):
    doc = make_document(patient, name="letter.pdf")
    page = parse(staff_page(doctor_client, patient).get_data(as_text=True))
    images = page.find_all("img", src=f"/documents/{doc.public_id}/preview")
    assert len(images) == 1 and "letter.pdf" in images[0].attrs["alt"]
    assert page.by_id(f"accept-{doc.public_id}-valid_until").attrs["type"] == "date"
    assert page.by_id(f"reject-{doc.public_id}-reason") is not None
    assert page.by_id("patient-documents") is not None


def test_staff_page_fragment_for_htmx(doctor_client, patient):
    make_document(patient)
    fragment = staff_page_htmx = doctor_client.get(
        f"/clinic/patients/{patient.patient.public_id}/documents", headers=HX)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="patient-documents"')
    assert "<html" not in staff_page_htmx.get_data(as_text=True)


# --- accept -----------------------------------------------------------------------------

@pytest.mark.parametrize("letter, until, message", [
    ("", "", "Enter the date of the physician's letter"),
    ("tomorrow", "", "cannot be in the future"),
    ("today", "today", None),  # a letter dated on its valid-until day: accepted
    ("today", "tomorrow", None),
    ("1850-01-01", "", "Enter a date between"),
])
def test_a_clearance_is_accepted_with_its_letter_date(doctor_client, doctor, patient, letter,
                                                       until, message):
    today = services.today()
    days = {"": "", "today": today, "tomorrow": today + timedelta(days=1)}
    letter_value = days.get(letter, letter)
    until_value = days[until]
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = accept(doctor_client, doc, str(until_value), letter_date=str(letter_value))
    if message is None:
        assert response.status_code == 303
        assert fresh(doc).letter_date == letter_value
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "document.accepted"))
        assert f'"letter_date": "{today.isoformat()}"' in event.detail
        assert services.is_cleared(patient.patient)
        assert not services.is_cleared(patient.patient, on=today - timedelta(days=1))
        return
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field_id = f"accept-{doc.public_id}-letter_date"
    error = parse(html).by_id(f"{field_id}-error")
    assert error is not None and message in error.text
    assert fresh(doc).status == "pending"
    if until_value:
        assert str(until_value) in html  # what was typed is kept


def test_accept_with_a_valid_until_date_clears_the_patient(doctor_client, doctor, patient):
    doc = make_document(patient)
    until = services.today() + timedelta(days=365)
    staff_page(doctor_client, patient)
    response = accept(doctor_client, doc, until.isoformat())
    assert response.status_code == 303
    assert response.location.endswith(f"/clinic/patients/{patient.patient.public_id}/documents")
    doc = fresh(doc)
    assert (doc.status, doc.valid_until, doc.reviewed_by_id) == ("accepted", until, doctor.id)
    assert services.is_cleared(patient.patient)
    page = staff_page(doctor_client, patient).get_data(as_text=True)
    assert "Cleared for IMS" in page and "Not cleared" not in page
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.subject == doc.public_id)
                             .order_by(AuditEvent.id.desc()).limit(1)) == "document.accepted"


def test_accept_with_htmx_swaps_the_list(doctor_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = accept(doctor_client, doc, headers=HX)
    assert response.status_code == 200
    doc_html = parse(response.get_data(as_text=True))
    assert doc_html.by_id("patient-documents") is not None
    flash = doc_html.by_id("flash")
    assert flash.attrs.get("data-hx-swap-oob") == "true" and "accepted" in flash.text


def test_accept_with_a_past_date_is_refused_by_the_field(doctor_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    for headers, full in (({}, True), (HX, False)):
        yesterday = (services.today() - timedelta(days=1)).isoformat()
        response = accept(doctor_client, doc, yesterday, headers=headers)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert ("<html" in html) is full
        page = parse(html)
        field_id = f"accept-{doc.public_id}-valid_until"
        assert page.by_id(field_id).attrs.get("aria-invalid") == "true"
        assert "cannot be in the past" in page.by_id(f"{field_id}-error").text
        assert page.find_all(role="alert")
    assert fresh(doc).status == "pending"


def test_accept_with_a_date_at_the_end_of_the_calendar_is_refused_by_the_field(
        doctor_client, patient):
    """9999-12-31 was taken as a clearance's end: no letter is valid for eight thousand
    years, and such far dates overflow date arithmetic elsewhere."""
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = accept(doctor_client, doc, "9999-12-31")
    assert response.status_code == 422
    field_id = f"accept-{doc.public_id}-valid_until"
    assert "Enter a date between" in parse(response.get_data(as_text=True)) \
        .by_id(f"{field_id}-error").text
    assert fresh(doc).status == "pending"


def test_accept_with_a_nonsense_date(doctor_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = accept(doctor_client, doc, "31/02/2027")
    assert response.status_code == 422 and fresh(doc).status == "pending"


# --- reviewed twice (a stale page, or two staff at once): said so, nothing changed ----------

def _events_and_mail(doc) -> tuple[list[str], int]:
    db.session.expire_all()
    return (list(db.session.scalars(select(AuditEvent.action)
                                    .where(AuditEvent.subject == doc.public_id))),
            len(outbox()))


def _second_review(client, doc, first: str, second: str, bad: bool, headers=None):
    """``second`` (accept or reject) on a document already ``first``-ed by someone else;
    ``bad`` sends a value the form itself refuses (a nonsense date, an empty reason)."""
    if second == "accept":
        return accept(client, doc, "31/02/2027" if bad else "", headers=headers)
    return reject(client, doc, "" if bad else REASON, headers=headers)


@pytest.mark.parametrize("bad", [False, True], ids=["valid", "invalid-form"])
@pytest.mark.parametrize("first,second", [("accepted", "reject"), ("rejected", "accept"),
                                          ("accepted", "accept"), ("rejected", "reject")])
def test_a_second_review_says_who_reviewed_and_changes_nothing(doctor_client, patient,
                                                                first, second, bad):
    other = make_practitioner(name="Dr. Avery Adams")
    doc = make_document(patient, status=first, reviewer=other)
    before = (fresh(doc).status, fresh(doc).reviewed_at, _events_and_mail(doc))
    response = _second_review(doctor_client, doc, first, second, bad)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    page = staff_page(doctor_client, patient).get_data(as_text=True)
    verb = "accepted" if first == "accepted" else "did not accept"
    assert (f"Dr. Avery Adams already reviewed {doc.original_name}" in page
            and verb in page and "Nothing was changed" in page), page
    doc_now = fresh(doc)
    assert (doc_now.status, doc_now.reviewed_at, _events_and_mail(doc)) == before
    assert doc_now.reviewed_by_id == other.id


@pytest.mark.parametrize("bad", [False, True], ids=["valid", "invalid-form"])
@pytest.mark.parametrize("first,second", [("accepted", "reject"), ("rejected", "accept")])
def test_a_second_review_with_htmx_shows_the_current_state(doctor_client, patient, first,
                                                           second, bad):
    other = make_practitioner(name="Dr. Avery Adams")
    doc = make_document(patient, status=first, reviewer=other)
    response = _second_review(doctor_client, doc, first, second, bad, headers=HX)
    assert response.status_code == 200
    fragment = parse(response.get_data(as_text=True))
    flash = fragment.by_id("flash")
    assert flash.attrs.get("data-hx-swap-oob") == "true"
    assert "Dr. Avery Adams already reviewed" in flash.text
    item = fragment.by_id(f"doc-{doc.public_id}")
    assert "Dr. Avery Adams" in item.text
    assert ("Accepted" if first == "accepted" else "Not accepted") in item.text
    # No review forms for it any more: it is not pending.
    assert fragment.by_id(f"accept-{doc.public_id}-valid_until") is None
    assert fresh(doc).status == first


def test_a_second_review_in_french(app, doctor, patient):
    other = make_practitioner(name="Dr. Avery Adams")
    doc = make_document(patient, status="accepted", reviewer=other)
    doctor.locale = "fr_CA"
    db.session.commit()
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(doctor).status_code == 303
    assert reject(client, doc).status_code == 303
    flash = parse(staff_page(client, patient).get_data(as_text=True)).by_id("flash").text
    assert "Dr. Avery Adams a déjà examiné" in flash and "Rien n'a été modifié" in flash, flash


@pytest.mark.parametrize("first,second", [("accepted", services.reject),
                                          ("rejected", services.accept)])
def test_two_reviews_at_once_the_second_is_refused(app, doctor, patient, first, second):
    """Two staff at once: the second one's page and its copy of the row still say pending
    when the first review is stored; the second review changes nothing."""
    doc = make_document(patient)
    assert doc.status == "pending"  # this session's copy, as the second request has it
    other = make_practitioner(name="Dr. Avery Adams")
    with db.engine.begin() as conn:  # the first review, from another connection
        conn.execute(Document.__table__.update().where(Document.id == doc.id).values(
            status=first, reviewed_at=clock.now(), reviewed_by_id=other.id,
            rejection_reason=REASON if first == "rejected" else None))
    with app.test_request_context(), pytest.raises(services.DocumentError) as refused:
        if second is services.reject:
            second(doc, doctor, "Another reason.")
        else:
            second(doc, doctor, None, services.today())
    assert refused.value.code == f"already_{first}"
    db.session.rollback()
    doc_now = fresh(doc)
    assert (doc_now.status, doc_now.reviewed_by_id) == (first, other.id)
    assert [m.kind for m in outbox()] == []


# --- reject, and what the patient sees ----------------------------------------------------

def test_rejection_reason_reaches_the_patient_and_the_mail_says_only_news(
        doctor_client, patient_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = reject(doctor_client, doc)
    assert response.status_code == 303
    doc = fresh(doc)
    assert doc.status == "rejected" and doc.rejection_reason == REASON

    mine = patient_client.get("/me/documents/").get_data(as_text=True)
    assert "Your clearance was not accepted" in mine
    assert REASON.replace("'", "&#39;") in mine
    home = patient_client.get("/me/").get_data(as_text=True)
    assert "Upload a new physician's clearance" in home

    message, = outbox()
    assert message.to_addr == patient.email and message.kind == "document_news"
    text = (message.subject + message.body_text + (message.body_html or "")).lower()
    assert "news" in text and "/me/documents/" in text
    for secret in ("referral", "physician", "clearance", "reject", "accept",
                   patient.patient.public_id.lower(), doc.public_id.lower()):
        assert secret not in text, secret
    # The reason is not in the audit log either.
    assert not db.session.scalar(select(AuditEvent.id)
                                 .where(AuditEvent.detail.contains("referral")))


def test_reject_needs_a_reason(doctor_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    response = reject(doctor_client, doc, reason="   ")
    assert response.status_code == 422
    page = parse(response.get_data(as_text=True))
    assert page.by_id(f"reject-{doc.public_id}-reason").attrs.get("aria-invalid") == "true"
    assert fresh(doc).status == "pending" and outbox() == []


def test_accept_mails_the_patient_too(doctor_client, patient):
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    accept(doctor_client, doc)
    message, = outbox()
    assert "news" in message.body_text and "clearance" not in message.body_text.lower()


def test_review_without_javascript_uses_the_prefixed_csrf_field(app, doctor, patient):
    """A plain form post carries its token in the form (prefixed), not in a header."""
    doc = make_document(patient)
    app.test_client_class = CSRFClient
    client = app.test_client()
    Auth(client).login(doctor)
    page = parse(staff_page(client, patient).get_data(as_text=True))
    token = page.find_all("input", name=f"reject-{doc.public_id}-csrf_token")[0].attrs["value"]
    response = client.post(f"/clinic/documents/{doc.public_id}/reject", csrf=False,
                           data={f"reject-{doc.public_id}-csrf_token": token,
                                 f"reject-{doc.public_id}-reason": REASON})
    assert response.status_code == 303 and fresh(doc).status == "rejected"


def test_a_rejected_clearance_is_replaced_by_the_next_upload(doctor_client, patient_client,
                                                             patient):
    rejected = make_document(patient, status="rejected", reason=REASON)
    page = parse(patient_client.get("/me/documents/").get_data(as_text=True))
    assert page.find_all("a", href="/me/documents/?kind=clearance#upload")
    options = parse(patient_client.get("/me/documents/?kind=referral").get_data(
        as_text=True)).find_all("option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["referral"]

    assert upload(patient_client, (files.pdf("the right letter"), "new.pdf")).status_code == 303
    new = db.session.scalar(select(Document).where(Document.original_name == "new.pdf"))
    assert new.replaces_id == rejected.id
    mine = patient_client.get("/me/documents/").get_data(as_text=True)
    assert "You have uploaded a new one since." in mine
    assert "Your clearance is waiting for review" in mine
    assert services.clearance_state(patient.patient).state == "pending"

    staff_page(doctor_client, patient)
    accept(doctor_client, new)
    assert services.is_cleared(patient.patient)
    assert "You are cleared for IMS" in patient_client.get("/me/documents/").get_data(as_text=True)


# --- withdrawal and removal -----------------------------------------------------------------

def test_a_patient_withdraws_a_document_not_yet_reviewed(patient_client, patient):
    doc = make_document(patient, name="wrong.pdf")
    public_id = doc.public_id
    patient_client.get("/me/documents/")
    response = patient_client.post(f"/me/documents/{public_id}/withdraw")
    assert response.status_code == 303
    assert fresh(doc) is None
    assert "wrong.pdf was withdrawn." in patient_client.get("/me/documents/").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.subject == public_id)
                             .order_by(AuditEvent.id.desc()).limit(1)) == "document.withdrawn"


def test_withdraw_with_htmx(patient_client, patient):
    doc = make_document(patient)
    patient_client.get("/me/documents/")
    response = patient_client.post(f"/me/documents/{doc.public_id}/withdraw", headers=HX)
    assert response.status_code == 200
    assert parse(response.get_data(as_text=True)).by_id("my-documents") is not None


@pytest.mark.parametrize("status", ["accepted", "rejected"])
def test_reviewed_documents_are_kept(patient_client, patient, status):
    doc = make_document(patient, status=status)
    page = parse(patient_client.get("/me/documents/").get_data(as_text=True))
    assert not page.find_all("form", action=f"/me/documents/{doc.public_id}/withdraw")
    response = patient_client.post(f"/me/documents/{doc.public_id}/withdraw")
    assert response.status_code == 303
    assert fresh(doc) is not None
    assert "Reviewed documents stay in your record" in patient_client.get(
        "/me/documents/").get_data(as_text=True)


def test_only_an_admin_removes_a_reviewed_document(app, doctor_client, patient):
    doc = make_document(patient, status="accepted")
    assert "documents/" + doc.public_id + "/remove" not in staff_page(
        doctor_client, patient).get_data(as_text=True)
    assert doctor_client.post(f"/admin/documents/{doc.public_id}/remove").status_code == 404
    assert fresh(doc) is not None

    app.test_client_class = CSRFClient
    admin_client = app.test_client()
    admin = make_admin()
    Auth(admin_client).login(admin)
    page = staff_page(admin_client, patient).get_data(as_text=True)
    assert f"/admin/documents/{doc.public_id}/remove" in page
    public_id = doc.public_id
    response = admin_client.post(f"/admin/documents/{public_id}/remove")
    assert response.status_code == 303 and fresh(doc) is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.subject == public_id)
                              .order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.actor_id) == ("document.removed", admin.id)
    assert not services.is_cleared(patient.patient)


def test_patient_status_follows_clearance_without_going_backwards(doctor_client, patient):
    record = patient.patient
    record.status = "intake_submitted"
    db.session.commit()
    doc = make_document(patient)
    staff_page(doctor_client, patient)
    accept(doctor_client, doc)
    db.session.expire_all()
    assert record.status == "cleared"

    # Later stages are never overwritten by a clearance.
    for later in ("in_treatment", "discharged"):
        other = make_patient()
        other.patient.status = later
        db.session.commit()
        make_document(other, status="accepted")
        db.session.expire_all()
        assert other.patient.status == later

    # An intake still in progress stays that (the intake's submission moves it on).
    early = make_patient()
    make_document(early, status="accepted")
    db.session.expire_all()
    assert early.patient.status == "intake_in_progress"
    early.patient.status = "intake_submitted"
    services.sync_status(early.patient)
    assert early.patient.status == "cleared"


def test_clock_moves_and_an_accepted_clearance_expires(patient_client, patient):
    until = services.today() + timedelta(days=10)
    make_document(patient, status="accepted", valid_until=until)
    assert "You are cleared for IMS" in patient_client.get("/me/documents/").get_data(as_text=True)
    clock.advance(days=12)
    patient_client.get("/auth/login")  # the session may idle out; the page is what matters
    db.session.expire_all()
    assert services.clearance_state(patient.patient).state == "expired"


@pytest.mark.parametrize("public_id", ["endswithadash-", "ends_underscore_", "-starts-dash"])
def test_review_forms_work_whatever_the_id_looks_like(doctor_client, patient, public_id):
    """Public ids are URL-safe base64: "-" and "_" anywhere, even last (WTForms would not add
    its own separator after them)."""
    doc = make_document(patient)
    doc.public_id = public_id
    db.session.commit()
    page = parse(staff_page(doctor_client, patient).get_data(as_text=True))
    assert page.by_id(f"accept-{public_id}-valid_until") is not None
    until = services.today() + timedelta(days=30)
    assert accept(doctor_client, doc, until.isoformat()).status_code == 303
    assert fresh(doc).valid_until == until
