"""Hostile input (SPEC 2.5): arbitrary field names and values posted to every step, plain
and htmx, never cause a 500 and never store anything the definition does not allow."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.intake import services
from portal.intake.answers import problems
from portal.intake.definitions import FOLDER, load_folder
from portal.intake.forms import step_form_class
from portal.models import IntakeResponse
from tests.factories import make_patient
from tests.intake.helpers import HX

DEFINITION = load_folder(FOLDER).questionnaire("ims_intake")
QUESTION_STEPS = [s.number for s in DEFINITION.steps if s.kind == "questions"]


def field_names(step_no: int) -> list[str]:
    from datetime import date
    cls = step_form_class(DEFINITION, DEFINITION.step(step_no), "en", date(2026, 1, 1))
    return sorted(f.name for f in cls(formdata=None, meta={"csrf": False}))


INTERESTING = ["", " ", "0", "5", "10", "11", "-1", "1.5", "yes", "no", "y", "not_sure",
               "female", "other", "physician", "constant", "1_5_years", "arthritis",
               "1960-05-17", "2999-01-01", "1960-02-30", "1850-01-01", "604-555-0123",
               "x" * 2001, "y" * 6000, "  spaced  ", "a\x00b", "\u202e\u0000\ud7ff",
               "<script>alert(1)</script>", "next", "back", "later", "save"]


def values():
    return st.one_of(st.sampled_from(INTERESTING), st.text(max_size=40),
                     st.lists(st.one_of(st.sampled_from(INTERESTING), st.text(max_size=10)),
                              max_size=4))


def posts(step_no: int):
    names = [*field_names(step_no), "action", "revision", "editor", "pain_map-front.nose",
             "psfs-7-activity", "is_admin", "../etc"]
    keys = st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=30))
    return st.dictionaries(keys, values(), max_size=14)


@pytest.fixture
def patient(client, auth):
    user = make_patient()
    assert auth.login(user).status_code == 303
    return user


def stored_answers(user):
    db.session.expire_all()
    response = services.response_for(user.patient)
    return response


@pytest.mark.parametrize("step_no", QUESTION_STEPS)
def test_arbitrary_posts_never_fail_and_never_store_invalid_answers(client, patient, step_no):
    client.get(f"/me/intake/{step_no}")

    @settings(max_examples=20, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(data=posts(step_no), htmx=st.booleans(), keep_revision=st.booleans())
    def post(data, htmx, keep_revision):
        data = dict(data)
        data.pop("csrf_token", None)
        if keep_revision:  # mostly a current page, so that answers really get stored
            response = stored_answers(patient)
            data["revision"] = str(response.revision if response else 0)
            data.setdefault("editor", "hypothesis-editor-1")
        url = f"/me/intake/{step_no}" + ("/autosave" if htmx else "")
        result = client.post(url, data=data, headers=HX if htmx else {})
        # 400: a NUL byte anywhere is refused before the view (portal.errors).
        assert result.status_code in (200, 303, 400, 409, 422), (result.status_code, data)
        response = stored_answers(patient)
        if response is not None:
            assert isinstance(response, IntakeResponse)
            assert problems(DEFINITION, response.answers, services.today()) == []
            assert 1 <= response.current_step <= DEFINITION.step_count

    post()


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(min_size=1, max_size=20), values(), max_size=6))
def test_arbitrary_submissions_and_corrections_never_fail(client, patient, data):
    # 400: a NUL byte anywhere is refused before the view (portal.errors).
    assert client.post("/me/intake/submit", data=data).status_code in (303, 400, 409, 422)
    assert client.post("/me/intake/amend/2", data=data).status_code in (302, 303, 400)
    assert client.post("/me/intake/consent", data=data).status_code in (200, 303, 400, 422)
