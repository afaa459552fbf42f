"""SPEC 1.1, 1.4, 1.5: only admins manage staff and clinic settings; deactivating someone
ends their sessions and their sign-ins."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, ClinicSettings
from tests.auth.helpers import field_error, fresh, html, sign_in
from tests.factories import PASSWORD, make_admin, make_patient, make_practitioner


@pytest.fixture
def admin(client):
    person = make_admin(name="Alex Admin")
    assert sign_in(client, person).status_code == 303
    return person


def settings_row(db):
    db.session.expire_all()
    return db.session.get(ClinicSettings, 1)


def audit_actions(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()


# The settings of the retention schedule and follow-ups, as the form sends them unchanged
# (tests/rights/test_retention.py changes them).
UNCHANGED = {"retention_years": "10", "follow_up_first_weeks": "6",
             "follow_up_second_weeks": "12"}


def test_settings_are_saved_and_audited(client, admin, db):
    response = client.post("/admin/settings", data={
        "name": "Kitsilano IMS Clinic", "timezone": "America/Toronto", "self_registration": "y",
        **UNCHANGED})
    assert response.status_code == 303 and response.location.endswith("/admin/")

    settings = settings_row(db)
    assert settings.name == "Kitsilano IMS Clinic"
    assert settings.timezone == "America/Toronto"
    assert settings.self_registration is True

    page = html(client.get("/admin/"))
    assert "Clinic settings saved." in page
    assert "<title>Administration · Kitsilano IMS Clinic</title>" in page
    assert 'value="America/Toronto" selected' in page or 'selected value="America/Toronto"' in page

    events = audit_actions(db, "settings.changed")
    assert len(events) == 1
    assert events[0].actor_id == admin.id
    assert json.loads(events[0].detail) == {"name": "Kitsilano IMS Clinic",
                                            "timezone": "America/Toronto",
                                            "self_registration": True}

    # Saving the same values again changes nothing and logs nothing more.
    client.post("/admin/settings", data={
        "name": "Kitsilano IMS Clinic", "timezone": "America/Toronto", "self_registration": "y",
        **UNCHANGED})
    assert len(audit_actions(db, "settings.changed")) == 1


@pytest.mark.parametrize("data, field", [
    ({"name": "Clinic", "timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"name": "Clinic", "timezone": ""}, "timezone"),
    ({"name": "", "timezone": "America/Vancouver"}, "clinic-name"),
])
def test_invalid_settings_are_refused_by_the_field(client, admin, db, data, field):
    before = settings_row(db)
    before = (before.name, before.timezone) if before else None
    response = client.post("/admin/settings", data={**data, **UNCHANGED})
    assert response.status_code == 422
    assert field_error(html(response), field)
    after = settings_row(db)
    assert (after.name, after.timezone) == before
    assert audit_actions(db, "settings.changed") == []


def test_the_staff_list_shows_staff_only(client, admin):
    make_practitioner(name="Dr. Rosa Diaz", email="rosa@example.org")
    make_patient(name="Paula Patient", email="paula@example.org")
    make_practitioner(name="Dr. Not Yet", password=None)  # invited, not joined

    page = html(client.get("/admin/"))
    staff = page.split('id="staff-title"')[1].split("</table>")[0]
    assert "Dr. Rosa Diaz" in staff and "rosa@example.org" in staff
    assert "Alex Admin" in staff
    assert "Paula Patient" not in page
    assert "Dr. Not Yet" not in staff


def test_deactivating_staff_ends_their_sessions_and_sign_ins(client, other_client, admin, db):
    doctor = make_practitioner(name="Dr. Rosa Diaz")
    sign_in(other_client, doctor)
    assert other_client.get("/clinic/").status_code == 200

    response = client.post(f"/admin/staff/{doctor.public_id}/deactivate")
    assert response.status_code == 303
    assert "Dr. Rosa Diaz can no longer sign in." in html(client.get("/admin/"))
    assert fresh(doctor).active is False
    assert audit_actions(db, "user.deactivated")[-1].subject == doctor.email

    assert other_client.get("/clinic/").status_code in (302, 303)
    response = other_client.post("/auth/login", data={"email": doctor.email,
                                                      "password": PASSWORD})
    assert response.status_code == 422

    response = client.post(f"/admin/staff/{doctor.public_id}/reactivate")
    assert response.status_code == 303
    assert fresh(doctor).active is True
    assert audit_actions(db, "user.reactivated")[-1].subject == doctor.email
    assert sign_in(other_client, doctor).location.endswith("/clinic/")


def test_an_admin_cannot_deactivate_themselves(client, admin):
    response = client.post(f"/admin/staff/{admin.public_id}/deactivate")
    assert response.status_code == 303
    assert "You cannot deactivate your own account." in html(client.get("/admin/"))
    assert fresh(admin).active is True


def test_staff_actions_do_not_reach_patients_or_unknown_ids(client, admin):
    patient = make_patient()
    for action in ("deactivate", "reactivate", "resend"):
        assert client.post(f"/admin/staff/{patient.public_id}/{action}").status_code == 404
        assert client.post(f"/admin/staff/no-such-person/{action}").status_code == 404
    assert fresh(patient).active is True


def test_staff_actions_need_a_csrf_token(client, admin):
    doctor = make_practitioner()
    response = client.post(f"/admin/staff/{doctor.public_id}/deactivate", csrf=False)
    assert response.status_code == 400
    assert fresh(doctor).active is True


@pytest.mark.parametrize("make", [make_practitioner, make_patient])
def test_only_admins_reach_administration(client, make):
    user = make()
    sign_in(client, user)
    target = make_practitioner()
    assert client.get("/admin/").status_code == 404
    assert client.post("/admin/settings", data={"name": "Mine now",
                                                "timezone": "UTC"}).status_code == 404
    assert client.post(f"/admin/staff/{target.public_id}/deactivate").status_code == 404
    assert fresh(target).active is True


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code in (302, 303) and "/auth/login" in response.location
