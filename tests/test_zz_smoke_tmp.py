import pytest
from tests.factories import make_patient
def test_smoke(client, auth, app):
    for r in app.url_map.iter_rules():
        if "intake" in r.endpoint: print(r.endpoint, r.rule, r.methods)
    p = make_patient()
    auth.login(p)
    r = client.get("/me/")
    print(r.status_code); assert r.status_code == 200
    r = client.get("/me/intake/")
    print(r.status_code, r.location)
    for n in range(1, 8):
        r = client.get(f"/me/intake/{n}")
        print(n, r.status_code, len(r.data))
        assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
