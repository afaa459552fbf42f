"""Sessions kept on the server (SPEC 1.4, 8.7) with several gunicorn workers: whichever
worker answers, the browser is signed in, its messages reach the next page, and sign-out
ends it everywhere. Nothing a session holds lives in a process."""
from __future__ import annotations

import re

from tests import served
from tests.factories import make_patient
from tests.served import app_config  # noqa: F401  (the app shares the server's key)

WORKERS = 3

pytestmark = served.needs_gunicorn


def test_several_workers_share_the_sessions(app, tmp_path):
    patient = make_patient(name="Gunnar Worker")
    with served.gunicorn(app, tmp_path, workers=WORKERS) as base:
        browser = served.HttpClient(base)
        browser.sign_in(patient)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", browser.cookies["portal_session"])
        # Many requests: the workers take turns, each reads the same session.
        for _ in range(4 * WORKERS):
            answer = browser.get("/me/")
            assert answer.status == 200 and "Gunnar Worker" in answer.text

        assert browser.post("/auth/logout").status == 303
        answer = browser.get("/auth/login")
        assert answer.status == 200 and "You have signed out." in answer.text
        for _ in range(2 * WORKERS):
            assert browser.get("/me/").status in (302, 303)  # to the sign-in page
