"""Old follow-up links (SPEC 12.1): an expired link still declines the follow-ups of the
discharge it was sent for, not those of a later one the patient welcomed again; and a row
whose e-mail keeps failing neither floods the log nor holds back the other patients'."""
from __future__ import annotations

import logging

import pytest

from portal import clock
from portal.clinic.chart import services as chart
from portal.extensions import db
from portal.followups import services
from portal.models import Patient, User
from tests.factories import make_practitioner
from tests.followups.helpers import (
    discharge,
    follow_up_mails,
    follow_ups_of,
    links,
    path_of,
    send_and_deliver,
    treated,
)


@pytest.fixture
def declined_then_welcomed_again(mail_app, smtp_server):
    """Discharged, the 6-week follow-up e-mailed and declined by its link; years later the
    patient turns follow-ups back on, is treated again and discharged again: (user, the
    first e-mail's decline path)."""
    user = treated()
    doctor = make_practitioner()
    discharge(user, actor=doctor)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    _answer, decline = links(follow_up_mails(smtp_server)[0])
    decline = path_of(decline)
    patient = db.session.get(Patient, user.patient.id)
    assert services.decline(patient, None, "link") == 2
    clock.advance(days=365 * 2)
    assert services.undo_decline(db.session.get(Patient, user.patient.id),
                                 db.session.get(User, user.id))
    chart.readmit(db.session.get(Patient, user.patient.id), doctor)
    clock.advance(days=30)
    discharge(user, actor=doctor)
    return user, decline


def test_an_old_decline_link_does_not_stop_a_later_discharges_follow_ups(
        declined_then_welcomed_again, client):
    user, decline = declined_then_welcomed_again
    assert sorted(f.status for f in follow_ups_of(user)) == [
        "declined", "declined", "scheduled", "scheduled"]
    page = client.get(decline)
    assert page.status_code == 404
    assert "This link no longer works" in page.get_data(as_text=True)
    assert client.post(decline).status_code == 404
    assert sorted(f.status for f in follow_ups_of(user)) == [
        "declined", "declined", "scheduled", "scheduled"]
    assert db.session.get(Patient, user.patient.id).follow_ups_declined_at is None


def test_an_expired_link_of_the_current_discharge_still_declines(mail_app, smtp_server,
                                                                 client):
    user = treated()
    discharge(user)
    clock.advance(weeks=6, minutes=1)
    assert send_and_deliver().sent == 1
    _answer, decline = links(follow_up_mails(smtp_server)[0])
    clock.advance(days=services.LINK_VALID_FOR.days + 1)
    assert client.get(path_of(decline)).status_code == 200
    assert client.post(path_of(decline)).status_code == 303
    assert [f.status for f in follow_ups_of(user)] == ["declined", "declined"]
    # Done: the same link says so, while no later discharge came.
    assert "We will not send you follow-up questions any more" in \
        client.get(path_of(decline)).get_data(as_text=True)


def _failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "not sent" in r.getMessage()]


def test_a_row_that_keeps_failing_is_logged_in_full_once_and_holds_no_one_back(
        mail_app, smtp_server, caplog):
    """Bea's e-mail cannot be made (a locale the portal has no words for); her follow-up is
    due first and the worker takes one row a tick: Gus's still goes at the second tick.
    Bea's traceback is logged once, the next failures in one line."""
    bad, good = treated(name="Bea Broken"), treated(name="Gus Good")
    discharge(bad)
    clock.advance(hours=1)
    discharge(good)
    db.session.get(User, bad.id).locale = "xx_NOPE"
    db.session.commit()
    clock.advance(weeks=6, hours=1)
    assert services.send_due(limit=1).sent == 0
    assert services.send_due(limit=1).sent == 1
    assert [f.status for f in follow_ups_of(good)] == ["sent", "scheduled"]
    assert services.send_due(limit=1).sent == 0  # Bea's again: Gus's 12-week is not due
    assert [f.status for f in follow_ups_of(bad)] == ["scheduled", "scheduled"]
    logged = _failures(caplog)
    assert [(r.levelno, r.exc_info is not None) for r in logged] == [
        (logging.ERROR, True), (logging.WARNING, False)]
    assert all(str(follow_ups_of(bad)[0].id) in r.getMessage() for r in logged)
