"""The treatment pages' markup lives with the strict CSP and assistive technology (SPEC
8.2, 8.4): no inline script, style or event handler (SVG included), ids used once, every
form field labelled, and htmx fragments that are only the fragment."""
from __future__ import annotations

from collections import Counter

from portal import clock
from tests.markup import parse
from tests.treatment.conftest import signed_in
from tests.treatment.helpers import HX, history, make_treatable, rate, record


def check_markup(name: str, html: str) -> None:
    doc = parse(html)
    for script in doc.find_all("script"):
        assert script.attrs.get("src") and not script.text.strip(), f"{name}: inline script"
    assert not doc.find_all("style"), f"{name}: <style>"
    styled = [e.tag for e in doc.elements if "style" in e.attrs]
    assert not styled, f"{name}: style= on {styled}"
    handlers = [(e.tag, a) for e in doc.elements for a in e.attrs if a.startswith("on")]
    assert not handlers, f"{name}: {handlers}"
    ids = Counter(e.attrs["id"] for e in doc.elements if e.attrs.get("id"))
    assert [i for i, n in ids.items() if n > 1] == [], f"{name}: ids used twice"
    labelled = {e.attrs.get("for") for e in doc.find_all("label")}
    for field in doc.elements:
        if field.tag in ("input", "select", "textarea") and \
                field.attrs.get("type") not in ("hidden", "submit"):
            assert field.attrs.get("id") in labelled, f"{name}: {field.attrs} has no label"


def test_every_treatment_page(app, doctor, doctor_client, patient, patient_client):
    history(patient, [6, 5, 5, 4])
    rated = record(patient, doctor, hours_ago=26)
    rate(rated, 3, breathing=True)
    open_one = record(patient, doctor, hours_ago=1)
    staff = {
        "worklist": doctor_client.get("/clinic/"),
        "sessions": doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/sessions"),
        "sessions fragment": doctor_client.get(
            f"/clinic/patients/{patient.patient.public_id}/sessions", headers=HX),
        "correct": doctor_client.get(f"/clinic/sessions/{open_one.public_id}/correct"),
    }
    mine = {
        "home": patient_client.get("/me/"),
        "my sessions": patient_client.get("/me/sessions/"),
        "rating form": patient_client.get(f"/me/sessions/{open_one.public_id}/rating"),
        "rating editable": patient_client.get(f"/me/sessions/{rated.public_id}/rating"),
        "progress": patient_client.get("/me/progress"),
    }
    for name, response in {**staff, **mine}.items():
        assert response.status_code == 200, name
        check_markup(name, response.get_data(as_text=True))
    fragment = staff["sessions fragment"].get_data(as_text=True)
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="patient-sessions"')
    clock.advance(days=2)
    check_markup("rating read-only", patient_client.get(
        f"/me/sessions/{rated.public_id}/rating").get_data(as_text=True))


def test_french_pages_render(app, doctor):
    user = make_treatable(name="Isabelle Roy", locale="fr_CA")
    history(user, [5, 4, 3])
    session = record(user, doctor)
    client = signed_in(app, user)
    for url in ("/me/", "/me/sessions/", f"/me/sessions/{session.public_id}/rating",
                "/me/progress"):
        response = client.get(url)
        assert response.status_code == 200
        assert 'lang="fr-CA"' in response.get_data(as_text=True)
