import pytest
from tests.test_access_matrix import ROUTES, _client_for, _url, people, app_config  # noqa
from tests.test_access_matrix import _routes

@pytest.mark.parametrize("actor", ["visitor", "patient_a", "admin"])
def test_intake_posts_without_csrf(app, people, actor):
    client = _client_for(app, actor, people)
    n = 0
    for rule in _routes(app):
        if "POST" not in rule.methods or not rule.endpoint.startswith("intake."):
            continue
        url = _url(app, rule.endpoint, ROUTES[rule.endpoint][0], people)
        r = client.post(url, data={"lang": "fr_CA", "name": "X", "email": "x@example.org"}, csrf=False)
        assert r.status_code == 400, (url, r.status_code)
        assert "This form has expired" in r.get_data(as_text=True)
        n += 1
    assert n == 6
