"""Follow-ups: the clock moves by weeks, so sign-ins outlast that here."""
from __future__ import annotations

import pytest

from tests.treatment.conftest import LONG_SESSIONS


@pytest.fixture
def app_config(app_config):
    app_config.update(LONG_SESSIONS)
    return app_config
