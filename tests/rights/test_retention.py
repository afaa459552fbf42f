"""The retention schedule's listing (SPEC 11.2): the periodic task lists exactly the records
whose retention period has ended in the clinic's time zone, never one under a legal hold,
once each; and the settings that drive it."""
from __future__ import annotations

import secrets
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal import clock, tasks
from portal.clinic.chart import services as chart
from portal.clinic_settings import current_settings
from portal.models import AuditEvent, Patient, RecordDisposal, RecordRequest, TreatmentSession
from portal.rights import hold, retention
from tests.conftest import BACKEND
from tests.factories import make_admin, make_follow_up, make_patient, make_practitioner
from tests.intake.helpers import make_intake

VANCOUVER = ZoneInfo("America/Vancouver")
REDIS_URL = "redis://127.0.0.1:6379/15"


def set_clock(moment: datetime) -> None:
    clock.reset()
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def vancouver(*args) -> datetime:
    return datetime(*args, tzinfo=VANCOUVER).astimezone(UTC)


def visited(db, at: datetime, *, cancelled_after: datetime | None = None, **kwargs) -> Patient:
    """A patient registered and seen once at ``at`` (and, with ``cancelled_after``, booked
    again then but the session cancelled: it does not count as a visit)."""
    set_clock(at - timedelta(days=30))
    user = make_patient(**kwargs)
    staff = make_practitioner()
    for when, status in ((at, "recorded"), (cancelled_after, "cancelled")):
        if when is not None:
            db.session.add(TreatmentSession(
                patient_id=user.patient.id, recorded_by_id=staff.id, treated_at=when,
                regions=["back.low_back.right"], status=status, corrections=[],
                cancelled_at=when if status == "cancelled" else None,
                created_at=when, updated_at=when, rating_opens_at=when))
    db.session.commit()
    return user.patient


def listed(db) -> dict[str, RecordDisposal]:
    db.session.expire_all()
    return {d.patient_public_id: d for d in db.session.scalars(select(RecordDisposal))}


@pytest.fixture
def clinic(db):
    current_settings().timezone = "America/Vancouver"
    current_settings().retention_years = 10
    db.session.commit()


def test_the_period_ends_on_the_clinics_calendar_day(app, db, clinic):
    # 23:30 in Vancouver on 9 March 2016 is already 10 March in UTC: the period ends on
    # 9 March 2026 (clinic's day), not 10 March.
    late = visited(db, vancouver(2016, 3, 9, 23, 30),
                   cancelled_after=vancouver(2017, 1, 5, 10, 0))
    later = visited(db, vancouver(2016, 3, 10, 0, 30))
    midnight = vancouver(2026, 3, 9, 0, 0)
    set_clock(midnight - timedelta(minutes=1))
    assert retention.list_due() == 0
    assert listed(db) == {}
    set_clock(midnight + timedelta(minutes=1))
    assert retention.list_due() == 1
    rows = listed(db)
    assert list(rows) == [late.public_id]
    row = rows[late.public_id]
    assert row.status == "listed" and row.retention_ends_on == date(2026, 3, 9)
    assert row.last_visit_at == vancouver(2016, 3, 9, 23, 30)  # the cancelled one ignored
    assert abs(row.registered_at - vancouver(2016, 2, 8, 23, 30)) < timedelta(minutes=1)
    set_clock(vancouver(2026, 3, 10, 0, 1))
    assert retention.list_due() == 1
    assert set(listed(db)) == {late.public_id, later.public_id}
    # Idempotent: another run (another worker) lists nothing more, audited once each.
    assert retention.list_due() == 0
    assert db.session.scalar(select(func.count()).select_from(RecordDisposal)) == 2
    assert db.session.scalar(select(func.count()).where(
        AuditEvent.action == "record.listed_for_disposal")) == 2


def test_who_is_not_listed(app, db, clinic):
    """A legal hold, a recent visit, a minor's record, a request not yet answered, and a
    setting of more years keep a record off the list; the hold lifted, it is listed."""
    held = visited(db, vancouver(2012, 5, 1, 10, 0))
    recent = visited(db, vancouver(2012, 5, 1, 10, 0))
    minor = visited(db, vancouver(2012, 5, 1, 10, 0))
    asking = visited(db, vancouver(2012, 5, 1, 10, 0))
    never_treated = visited(db, vancouver(2012, 5, 1, 10, 0))
    set_clock(vancouver(2026, 12, 1, 12, 0))
    staff = make_practitioner()
    db.session.add(TreatmentSession(
        patient_id=recent.id, recorded_by_id=staff.id, treated_at=vancouver(2020, 1, 1, 9, 0),
        regions=["back.low_back.right"], status="recorded", corrections=[],
        created_at=clock.now(), updated_at=clock.now(), rating_opens_at=clock.now()))
    minor.date_of_birth = date(2010, 6, 1)  # 18 in 2028: kept until 2038
    db.session.add(RecordRequest(patient_id=asking.id, kind="access", channel="clinic",
                                 received_at=clock.now(), due_at=clock.now()))
    db.session.execute(  # never treated: counted from when the record was opened
        TreatmentSession.__table__.delete().where(TreatmentSession.patient_id
                                                  == never_treated.id))
    db.session.commit()
    hold.place(held, staff, "Claim filed by the patient's insurer.")
    assert retention.list_due() == 1
    assert list(listed(db)) == [never_treated.public_id]
    current_settings().retention_years = 15
    db.session.commit()
    db.session.execute(RecordDisposal.__table__.delete())
    db.session.commit()
    assert retention.list_due() == 0
    current_settings().retention_years = 10
    db.session.commit()
    hold.lift(held, make_admin())
    assert retention.list_due() == 2
    assert set(listed(db)) == {held.public_id, never_treated.public_id}


def test_a_hold_cancels_a_listing_and_lifting_it_lists_the_record_again(app, db, clinic):
    patient = visited(db, vancouver(2014, 1, 10, 10, 0))
    set_clock(vancouver(2026, 12, 1, 12, 0))
    assert retention.list_due() == 1
    hold.place(patient, make_practitioner(), "Complaint to the College.")
    assert listed(db)[patient.public_id].status == "cancelled"
    assert retention.list_due() == 0
    hold.lift(patient, make_admin())
    assert retention.list_due() == 1
    row = listed(db)[patient.public_id]
    assert row.status == "listed" and row.cancelled_at is None


def test_a_patient_who_comes_back_is_not_listed(app, db, clinic):
    """The last visit is the latest interaction of any kind, and a patient in care is never
    listed: re-admitted years after their last session (no session yet), invited long ago
    and only now sending their intake, saving an intake now, answering a follow-up; and one
    still in treatment, though not seen for years (never discharged)."""
    readmitted = visited(db, vancouver(2013, 5, 1, 10, 0))
    in_care = visited(db, vancouver(2013, 5, 1, 10, 0))
    in_care.status = "in_treatment"
    late_intake = visited(db, vancouver(2013, 5, 1, 10, 0))
    saving = visited(db, vancouver(2013, 5, 1, 10, 0))
    answering = visited(db, vancouver(2013, 5, 1, 10, 0))
    gone = visited(db, vancouver(2013, 5, 1, 10, 0))
    staff = make_practitioner()
    for patient in (readmitted, answering, gone):
        chart.discharge(patient, staff, "completed")
    db.session.execute(  # invited, never treated: counted from when the record was opened
        TreatmentSession.__table__.delete().where(TreatmentSession.patient_id
                                                  == late_intake.id))
    db.session.commit()
    set_clock(vancouver(2026, 12, 1, 12, 0))
    chart.readmit(db.session.get(Patient, readmitted.id), staff)
    make_intake(db.session.get(Patient, late_intake.id).user)
    # An intake saved today (portal.intake.saving), and a follow-up answered two years ago,
    # each on a record otherwise at rest.
    db.session.get(Patient, saving.id).last_activity_at = clock.now()
    make_follow_up(db.session.get(Patient, answering.id), discharged_at=clock.now(),
                   answered_at=vancouver(2024, 12, 1, 12, 0))
    db.session.get(Patient, answering.id).last_activity_at = vancouver(2013, 5, 1, 10, 0)
    db.session.commit()
    statuses = {p.id: db.session.get(Patient, p.id).status
                for p in (readmitted, late_intake, saving, answering)}
    assert statuses == {readmitted.id: "intake_in_progress", late_intake.id: "intake_submitted",
                        saving.id: "intake_in_progress", answering.id: "discharged"}
    assert retention.list_due() == 1
    assert list(listed(db)) == [gone.public_id]
    # The same rule as the listing's: none of them is due.
    today = date(2026, 12, 1)
    assert [retention.due(db.session.get(Patient, p.id), today) is None
            for p in (readmitted, late_intake, saving, answering, in_care)] == [True] * 5
    assert retention.retention_ends_on(db.session.get(Patient, answering.id)) == date(
        2034, 12, 1)


@pytest.fixture
def app_config(tmp_path):
    return {"TASK_QUEUE_URL": REDIS_URL if BACKEND == "postgresql"
            else f"sqlite:///{tmp_path / 'tasks.db'}",
            "TASK_QUEUE_NAME": f"test-{secrets.token_hex(6)}"}


def test_a_running_worker_lists_the_records(app, db, clinic):
    patient = visited(db, vancouver(2015, 4, 2, 10, 0))
    set_clock(vancouver(2026, 12, 1, 12, 0))
    try:
        with tasks.BackgroundConsumer(workers=2):
            tasks.list_records_for_disposal()  # queued, as the schedule does
            tasks.list_records_for_disposal()  # and a second tick at once
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not listed(db):
                time.sleep(0.1)
            time.sleep(0.5)
    finally:
        tasks.huey.flush()
    assert list(listed(db)) == [patient.public_id]


def test_the_task_is_on_the_schedule(app):
    def runs_at(hour: int, minute: int) -> bool:
        return tasks.list_records_for_disposal.s().validate_datetime(
            datetime(2026, 12, 7, hour, minute))
    assert runs_at(0, 23) and runs_at(6, 23) and not runs_at(1, 23) and not runs_at(0, 24)


# --- the settings --------------------------------------------------------------------------

def _settings_form(**changes) -> dict:
    data = {"name": "IMS Clinic", "locale": "en", "timezone": "America/Vancouver",
            "retention_years": "10", "follow_up_first_weeks": "6",
            "follow_up_second_weeks": "12"}
    data.update(changes)
    return data


def test_an_admin_sets_the_retention_and_follow_up_delays(app, db, client, auth):
    auth.login(make_admin())
    response = client.post("/admin/settings", data=_settings_form(
        retention_years="7", follow_up_first_weeks="4", follow_up_second_weeks=""))
    assert response.status_code == 303
    db.session.expire_all()
    settings = current_settings()
    assert (settings.retention_years, settings.follow_up_first_weeks,
            settings.follow_up_second_weeks) == (7, 4, None)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.changed"))
    assert '"retention_years": 7' in event.detail and '"follow_up_second_weeks": null' \
        in event.detail
    page = client.get("/admin/").get_data(as_text=True)
    assert 'name="retention_years"' in page and "College of Physiotherapists" in page


@pytest.mark.parametrize("changes, field, message", [
    ({"retention_years": "0"}, "retention_years", "from 1 to 100"),
    ({"retention_years": "101"}, "retention_years", "from 1 to 100"),
    ({"retention_years": ""}, "retention_years", "from 1 to 100"),
    ({"retention_years": "ten"}, "retention_years", "whole number"),
    ({"follow_up_first_weeks": "105"}, "follow_up_first_weeks", "from 1 to 104"),
    ({"follow_up_first_weeks": "8", "follow_up_second_weeks": "8"}, "follow_up_second_weeks",
     "after the first"),
])
def test_bad_settings_are_refused_by_their_field(app, db, client, auth, changes, field,
                                                 message):
    auth.login(make_admin())
    response = client.post("/admin/settings", data=_settings_form(**changes))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and message in page
    for name, value in changes.items():  # nothing typed is lost
        assert f'name="{name}"' in page and (not value or f'value="{value}"' in page)
    db.session.expire_all()
    assert current_settings().retention_years == 10
