import pytest


@pytest.fixture
def other_client(app, client):
    """A second browser (own cookies), sending CSRF tokens like ``client``."""
    return app.test_client()
