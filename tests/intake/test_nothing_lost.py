"""Nothing typed is lost (SPEC 2.4): htmx autosave with its status, the stale-tab check, and
answers kept across an expired sign-in or an expired form."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, select

from portal import clock
from portal.extensions import db
from portal.models import ConsentSignature, IntakeStash
from tests.conftest import Auth
from tests.factories import PASSWORD, make_patient
from tests.intake.helpers import (
    FORM,
    HX,
    expired_token,
    hidden,
    page_state,
    post_step,
    response_of,
)
from tests.markup import parse


@pytest.fixture
def patient(client, auth):
    user = make_patient(name="Pat Morgan")
    assert auth.login(user).status_code == 303
    return user


def autosave(client, step: int, data: dict, state: dict, **kwargs):
    return client.post(f"/me/intake/{step}/autosave", data={**state, **data},
                       headers={**HX, **kwargs.pop("headers", {})}, **kwargs)


# --- autosave ------------------------------------------------------------------------------

def test_an_answer_autosaves_and_the_status_says_so(client, patient):
    state = page_state(client, 2)
    assert state["revision"] == "0" and len(state["editor"]) >= 16
    response = autosave(client, 2, {"nprs_now": "4"}, state)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Saved at" in html
    # The status carries the revision the next save must send.
    assert hidden(html, "revision") == "1" and hidden(html, "editor") == state["editor"]
    assert response_of(patient).answers == {"nprs_now": 4}
    assert response_of(patient).current_step == 2
    # Autosave never asks for required answers; the next one simply follows.
    response = autosave(client, 2, {"nprs_now": "4", "pain_map-back.low_back.left": "8"},
                        {**state, "revision": "1"})
    assert response.status_code == 200
    assert response_of(patient).answers == {"nprs_now": 4,
                                            "pain_map": {"back.low_back.left": 8}}


def test_the_page_has_an_announced_status_region_and_autosave_wiring(client, patient):
    doc = parse(client.get("/me/intake/2").get_data(as_text=True))
    status = doc.by_id("save-status")
    assert status.attrs.get("role") == "status" and status.attrs.get("aria-live") == "polite"
    assert "Not saved" in status.attrs["data-failed"]  # what the page's script says then
    form = doc.by_id("intake-form")
    assert form.attrs["data-autosave"] == "/me/intake/2/autosave"
    assert form.attrs["action"] == "/me/intake/2" and form.attrs["method"] == "post"


def test_the_failed_save_message_is_in_the_patients_language(client, auth):
    user = make_patient(name="Isabelle Roy", locale="fr_CA")
    assert auth.login(user).status_code == 303
    doc = parse(client.get("/me/intake/4").get_data(as_text=True))
    assert doc.by_id("save-status").attrs["data-failed"].startswith("Non enregistré")


def test_an_invalid_answer_is_not_autosaved_and_the_status_says_why(client, patient):
    state = page_state(client, 1)
    response = autosave(client, 1, {"phone": "604-555-0123", "dob": "3000-01-01"}, state)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not saved yet" in html and 'href="#q-dob"' in html
    assert response_of(patient).answers == {"phone": "604-555-0123"}


def test_autosave_never_signs_the_consent(client, patient):
    state = page_state(client, 6)
    response = autosave(client, 6, FORM[6], state)
    assert response.status_code == 200
    assert db.session.scalar(select(ConsentSignature)) is None
    assert "consent_signature" not in response_of(patient).answers


def test_a_stale_tab_cannot_overwrite_newer_answers(app, client, patient):
    tab_a = page_state(client, 4)
    tab_b = page_state(client, 4)  # the same step open twice (or on two devices)
    assert tab_a["editor"] != tab_b["editor"]
    assert autosave(client, 4, {"medications": "Naproxen 250 mg"}, tab_a).status_code == 200

    stale = autosave(client, 4, {"medications": "Nothing"}, tab_b)
    assert stale.status_code == 409
    assert stale.headers["HX-Retarget"] == "#intake-form"
    assert stale.headers["HX-Reswap"] == "outerHTML"
    doc = parse(stale.get_data(as_text=True))
    assert "This form was changed elsewhere" in doc.find_all(role="alert")[0].text
    # The newer answers are shown, and what this tab had is offered, not lost.
    assert doc.by_id("q-medications").text.strip() == "Naproxen 250 mg"
    assert "Nothing" in stale.get_data(as_text=True)
    assert hidden(stale.get_data(as_text=True), "revision") == "1"
    assert response_of(patient).answers == {"medications": "Naproxen 250 mg"}

    # A plain post from the stale tab is refused the same way.
    plain = post_step(client, 4, {"medications": "Nothing"}, state=tab_b, action="save")
    assert plain.status_code == 409
    assert "This form was changed elsewhere" in plain.get_data(as_text=True)
    assert response_of(patient).answers == {"medications": "Naproxen 250 mg"}


def test_a_page_is_not_stale_against_its_own_autosave(client, patient):
    """The button press can carry the revision from before the page's own last autosave."""
    state = page_state(client, 4)
    autosave(client, 4, {"medications": "Naproxen"}, state)
    response = post_step(client, 4, {"medications": "Naproxen 250 mg"}, state=state)
    assert response.status_code == 303
    assert response_of(patient).answers["medications"] == "Naproxen 250 mg"


def test_a_late_autosave_cannot_undo_its_own_pages_button(client, patient):
    """Found in the browser: a debounced autosave reached the server after the page's
    "Save and continue", sent the patient back a step and made the next page stale."""
    state = page_state(client, 4)
    assert post_step(client, 4, {"medications": "Final answer"}, state=state).status_code == 303
    late = autosave(client, 4, {"medications": "Half-typed"}, state)
    assert late.status_code == 409
    response = response_of(patient)
    assert response.answers["medications"] == "Final answer" and response.current_step == 5
    # The next page, opened after the button, still saves.
    assert autosave(client, 5, {"rf_injury": "no"}, page_state(client, 5)).status_code == 200


def test_autosave_without_its_revision_asks_for_a_reload(client, patient):
    response = autosave(client, 1, {"phone": "604-555-0123"}, {"editor": "e" * 16})
    assert response.status_code == 422
    assert "This page was out of date" in response.get_data(as_text=True)
    assert response_of(patient) is None


def test_a_save_whose_answer_was_lost_is_sent_again_without_a_conflict(client, patient):
    """A proxy can answer 502 (or the network drop the answer) for a save the portal made:
    the page still holds the older revision. Sent again as it is, the same answers are no
    conflict; sent again with more typed, as the page's retry ("final"), they are saved."""
    state = page_state(client, 4)
    assert autosave(client, 4, {"medications": "Naproxen"}, state).status_code == 200
    same = autosave(client, 4, {"medications": "Naproxen"}, state)
    assert same.status_code == 200
    assert hidden(same.get_data(as_text=True), "revision") == "1"  # the revision to go on with
    more = autosave(client, 4, {"medications": "Naproxen 250 mg", "final": "1"}, state)
    assert more.status_code == 200 and "Saved at" in more.get_data(as_text=True)
    assert response_of(patient).answers == {"medications": "Naproxen 250 mg"}
    # A retry is the page's own: another tab's older revision is still refused.
    other = {**state, "editor": "another-tab-token"}
    refused = autosave(client, 4, {"medications": "Nothing", "final": "1"}, other)
    assert refused.status_code == 409
    assert response_of(patient).answers == {"medications": "Naproxen 250 mg"}


def test_a_double_click_on_save_and_continue_saves_once_and_moves_on(app, client, patient):
    """Found with a double click: both posts of the page read the same revision; when the
    second one came to write, the first one had written in between, and the patient was
    told the form had been "changed elsewhere". The first post is made to land at exactly
    that moment."""
    assert post_step(client, 1).status_code == 303  # the intake exists
    state = page_state(client, 4)
    typed = {**FORM[4], "medications": "Naproxen 250 mg"}
    first: dict = {}

    def first_click_lands(conn, cursor, statement, parameters, context, executemany):
        if not first and statement.lstrip().upper().startswith("UPDATE INTAKE_RESPONSES"):
            first["started"] = True
            first["response"] = post_step(client, 4, typed, state=state)

    event.listen(db.engine, "before_cursor_execute", first_click_lands)
    try:
        second = post_step(client, 4, typed, state=state)
    finally:
        event.remove(db.engine, "before_cursor_execute", first_click_lands)
    assert first["response"].status_code == 303
    assert second.status_code == 303, second.get_data(as_text=True)[:2000]
    assert urlsplit(second.location).path == "/me/intake/5"
    page = client.get("/me/intake/5").get_data(as_text=True)
    assert "changed elsewhere" not in page
    response = response_of(patient)
    assert response.answers["medications"] == "Naproxen 250 mg" and response.current_step == 5


# --- an expired sign-in ----------------------------------------------------------------------

def test_nothing_typed_is_lost_across_an_expired_session(client, patient):
    post_step(client, 1)
    state = page_state(client, 4)
    clock.advance(minutes=61)  # the patient's idle timeout is 60 minutes
    typed = {**FORM[4], "medications": "Metformin 500 mg twice a day"}
    response = post_step(client, 4, typed, state=state)
    assert response.status_code in (302, 303)
    assert urlsplit(response.location).path == "/auth/login"
    assert "medications" not in (response_of(patient).answers or {})
    stash = db.session.scalar(select(IntakeStash))
    assert stash is not None and b"Metformin" not in stash.payload  # encrypted at rest
    login = client.get(response.location).get_data(as_text=True)
    assert "What you typed is kept" in login

    assert Auth(client).login(patient).status_code == 303
    assert urlsplit(client.get("/me/intake/").location).path == "/me/intake/4"
    page = client.get("/me/intake/4").get_data(as_text=True)
    assert "We kept what you typed" in page
    assert "Metformin 500 mg twice a day" in page
    boxes = {e.attrs["value"]: "checked" in e.attrs for e in parse(page).find_all(
        "input", name="previous_treatments")}
    assert boxes["massage"] and boxes["physiotherapy"] and not boxes["surgery"]
    # Saving it makes it an answer and clears what was kept.
    response = post_step(client, 4, typed, state={"revision": hidden(page, "revision"),
                                                  "editor": hidden(page, "editor")})
    assert response.status_code == 303
    assert response_of(patient).answers["medications"] == "Metformin 500 mg twice a day"
    assert db.session.scalar(select(IntakeStash)) is None


def test_an_autosave_after_the_timeout_is_kept_too(client, patient):
    state = page_state(client, 2)
    clock.advance(minutes=61)
    response = autosave(client, 2, {"main_complaint": "My neck hurts when I drive."}, state,
                        headers={"HX-Current-URL": "http://localhost/me/intake/2"})
    assert response.status_code == 200
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/auth/login" and parse_qs(target.query)["next"] == ["/me/intake/2"]
    client.post("/auth/login?next=/me/intake/2",
                data={"email": patient.email, "password": PASSWORD})
    assert "My neck hurts when I drive." in client.get("/me/intake/2").get_data(as_text=True)


def test_what_was_kept_is_only_given_back_to_its_owner(app, client, patient):
    state = page_state(client, 4)
    clock.advance(minutes=61)
    post_step(client, 4, {**FORM[4], "medications": "Private list"}, state=state)
    other = make_patient(name="Other Person")
    assert Auth(client).login(other).status_code == 303  # same browser, someone else
    assert "Private list" not in client.get("/me/intake/4").get_data(as_text=True)


def test_a_post_without_any_session_keeps_nothing_and_does_not_fail(app):
    fresh = app.test_client()
    response = fresh.post("/me/intake/4", data={"medications": "x"})
    assert response.status_code == 400
    assert db.session.scalar(select(IntakeStash)) is None


# --- an expired form (CSRF token) ------------------------------------------------------------

def test_an_expired_form_gives_back_what_was_typed(app, client, patient):
    state = page_state(client, 4)
    typed = {**state, "medications": "Aspirin 81 mg", "action": "next",
             "csrf_token": expired_token(app, client.token)}
    response = client.post("/me/intake/4", data=typed)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This form has expired" in html and "Aspirin 81 mg" in html
    assert response_of(patient) is None  # not saved without a valid token
    # The page carries a fresh token: saving again works.
    again = post_step(client, 4, {"medications": "Aspirin 81 mg"},
                      state={"revision": hidden(html, "revision"),
                             "editor": hidden(html, "editor")}, action="save")
    assert again.status_code == 303
    assert response_of(patient).answers == {"medications": "Aspirin 81 mg"}


def test_an_expired_token_on_autosave_keeps_the_text_and_the_pages_revision(app, client,
                                                                             patient):
    """Found in the browser: the answer to an expired autosave emptied the page's revision
    and editor, so every later autosave was refused."""
    state = page_state(client, 4)
    old = expired_token(app, client.token)
    response = client.post("/me/intake/4/autosave", headers={**HX, "X-CSRFToken": old},
                           data={**state, "surgeries": "Knee, 2015"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This page had expired" in html
    assert hidden(html, "revision") == state["revision"]
    assert hidden(html, "editor") == state["editor"]
    fresh = next(e.attrs["data-fresh-token"] for e in parse(html).elements
                 if "data-fresh-token" in e.attrs)
    assert fresh and fresh != old
    # The page's script sends the same answers again with the fresh token: saved.
    again = client.post("/me/intake/4/autosave", headers={**HX, "X-CSRFToken": fresh},
                        data={**state, "surgeries": "Knee, 2015"})
    assert again.status_code == 200 and "Saved at" in again.get_data(as_text=True)
    assert response_of(patient).answers == {"surgeries": "Knee, 2015"}
    assert db.session.scalar(select(IntakeStash)) is None


def test_an_expired_token_on_autosave_keeps_the_text_for_a_reload(app, client, patient):
    state = page_state(client, 4)
    client.post("/me/intake/4/autosave", data={**state, "surgeries": "Knee, 2015"},
                headers={**HX, "X-CSRFToken": expired_token(app, client.token)})
    assert "Knee, 2015" in client.get("/me/intake/4").get_data(as_text=True)


# --- a refused form that is not the patient's own ----------------------------------------

def _foreign_token(app) -> str:
    other = app.test_client()  # another browser: a valid token, but for its own session
    return other.fresh_token()


@pytest.mark.parametrize("token", ["missing", "forged", "another browser's"])
@pytest.mark.parametrize("url", ["/me/intake/4", "/me/intake/4/autosave"])
def test_a_post_without_the_patients_own_token_keeps_nothing(app, client, patient, token,
                                                             url):
    """Another site can make the patient's browser post a form (without a token, or with
    one of its own): refused, and nothing it carried is kept or shown later."""
    state = page_state(client, 4)
    data = {**state, "medications": "Planted text", "action": "next"}
    headers = dict(HX) if url.endswith("autosave") else {}
    if token == "forged":
        headers["X-CSRFToken"] = "IjEyMzQ1Ig.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"
    elif token == "another browser's":
        headers["X-CSRFToken"] = _foreign_token(app)
    response = client.post(url, data=data, headers=headers, csrf=token != "missing")
    assert response.status_code == 400
    assert "Planted text" not in response.get_data(as_text=True)
    assert db.session.scalar(select(IntakeStash)) is None
    assert response_of(patient) is None
    page = client.get("/me/intake/4").get_data(as_text=True)
    assert "Planted text" not in page and "We kept what you typed" not in page


def test_a_post_without_a_token_after_the_timeout_keeps_nothing(client, patient):
    state = page_state(client, 4)
    clock.advance(minutes=61)
    response = client.post("/me/intake/4", csrf=False,
                           data={**state, "medications": "Planted text", "action": "next"})
    assert response.status_code == 400
    assert db.session.scalar(select(IntakeStash)) is None
