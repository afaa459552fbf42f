"""Treatment: a practitioner and a patient ready for IMS, each signed in on their own client."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Auth, CSRFClient
from tests.factories import make_practitioner
from tests.treatment.helpers import make_treatable

# The tests move the clock by hours and days (rating windows): sign-ins outlast that here;
# idle timeouts have their own tests.
LONG_SESSIONS = {"IDLE_TIMEOUT_PATIENT": timedelta(days=30),
                 "IDLE_TIMEOUT_STAFF": timedelta(days=30),
                 "SESSION_LIFETIME": timedelta(days=30),
                 # and the browser's session that carries them (kept on the server).
                 "PERMANENT_SESSION_LIFETIME": timedelta(days=30)}


@pytest.fixture
def app_config(app_config):
    app_config.update(LONG_SESSIONS)
    return app_config


@pytest.fixture
def doctor(app):
    return make_practitioner(name="Dr. Jordan Lee")


@pytest.fixture
def patient(app):
    return make_treatable(name="Margaret Côté")


def signed_in(app, user):
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert Auth(client).login(user).status_code == 303
    return client


@pytest.fixture
def doctor_client(app, doctor):
    return signed_in(app, doctor)


@pytest.fixture
def patient_client(app, patient):
    return signed_in(app, patient)
