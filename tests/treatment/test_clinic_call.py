"""Issue 15: the urgent-care advice says "call the clinic" beside "call 911", with the
clinic's name and its phone as a tel: link (a sentence without a number while no phone is
set), after the safety check, on /me/problem and in the intake's red-flag advice, in English
and in French."""
from __future__ import annotations

import pytest

from portal.clinic_settings import current_settings
from portal.extensions import db
from tests.factories import make_patient
from tests.intake.helpers import FORM, post_step
from tests.markup import Element, parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import HX, make_treatable, record

CALL = {"en": "Then call your clinic, Kitsilano IMS Clinic, at 604-555-0123.",
        "fr_CA": "Appelez ensuite votre clinique, Kitsilano IMS Clinic, au 604-555-0123."}
NO_PHONE = {"en": "Then let your clinic, Kitsilano IMS Clinic, know.",
            "fr_CA": "Prévenez ensuite votre clinique, Kitsilano IMS Clinic."}


def set_identity(phone: str | None) -> None:
    settings = current_settings()
    settings.name, settings.phone = "Kitsilano IMS Clinic", phone
    db.session.commit()


def descendants(element: Element) -> list[Element]:
    found = []
    for child in element.children:
        found += [child, *descendants(child)]
    return found


def call_in(element: Element) -> Element:
    calls = [e for e in descendants(element)
             if e.tag == "p" and "clinic-call" in (e.attrs.get("class") or "")]
    assert calls, "no clinic call in the advice"
    return calls[0]


def clinic_call(html: str, container_id: str) -> Element:
    scope = parse(html).by_id(container_id)
    assert scope is not None
    return call_in(scope)


def words(element: Element) -> str:
    return " ".join(element.text.split())


def phone_links(element: Element) -> list[str | None]:
    return [e.attrs.get("href") for e in descendants(element) if e.tag == "a"]


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_the_safety_check_advice_gives_the_clinic_phone(app, doctor, locale):
    set_identity("604-555-0123")
    user = make_treatable(name="Isabelle Roy", locale=locale)
    session = record(user, doctor, hours_ago=1)
    client = signed_in(app, user)
    prefix = f"check-{session.public_id}"
    response = client.post(f"/me/sessions/{session.public_id}/safety-check",
                           data={f"{prefix}-symptoms": ["chest_pain"], f"{prefix}-answer": "some"},
                           headers=HX)
    assert response.status_code == 200
    call = clinic_call(response.get_data(as_text=True), "safety-advice")
    assert words(call) == CALL[locale]
    assert phone_links(call) == ["tel:6045550123"]
    # It stays on the home page with the advice while the clinic has not acknowledged it.
    home = client.get("/me/").get_data(as_text=True)
    assert words(clinic_call(home, "safety-advice")) == CALL[locale]


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_the_problem_page_advice_without_a_phone_names_the_clinic(app, doctor, locale):
    set_identity(None)
    user = make_treatable(name="Luc Fortin", locale=locale)
    record(user, doctor, hours_ago=1)
    client = signed_in(app, user)
    response = client.post("/me/problem", data={"symptoms": ["chest_pain"], "comment": ""})
    assert response.status_code == 200
    call = clinic_call(response.get_data(as_text=True), "safety-advice")
    assert words(call) == NO_PHONE[locale]
    assert phone_links(call) == []
    # The advice shown as soon as a sign is ticked (no script needed) carries it as well.
    page = parse(client.get("/me/problem").get_data(as_text=True))
    live = [e for e in page.find_all("div")
            if "urgent-advice--live" in (e.attrs.get("class") or "")]
    assert live and words(call_in(live[0])) == NO_PHONE[locale]


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_the_intake_red_flag_advice_gives_the_clinic_phone(app, locale):
    set_identity("604-555-0123")
    user = make_patient(name="Pat Morgan", locale=locale)
    client = signed_in(app, user)
    response = post_step(client, 5, {**FORM[5], "rf_saddle_numbness": "yes"})
    assert response.status_code == 303
    page = client.get("/me/intake/5").get_data(as_text=True)
    advice = next(e for e in parse(page).find_all("div")
                  if e.attrs.get("data-advice-for") == "rf_saddle_numbness")
    call = call_in(advice)
    assert words(call) == CALL[locale]
    assert phone_links(call) == ["tel:6045550123"]
    review = client.get("/me/intake/7").get_data(as_text=True)
    assert 'href="tel:6045550123"' in review
