"""The record form's regions (SPEC 4.1) start where the last session was: its regions come
ticked; before a first session the intake's body map is a hint, nothing ticked. Without
script the regions are one checkbox each, grouped, so the form still works as a plain post."""
from __future__ import annotations

from portal.treatment import services
from tests.markup import parse
from tests.treatment.helpers import make_treatable, record


def sessions_url(user) -> str:
    return f"/clinic/patients/{user.patient.public_id}/sessions"


def ticked(client, user) -> list[str]:
    doc = parse(client.get(sessions_url(user)).get_data(as_text=True))
    return [box.attrs["value"] for box in doc.find_all("input", name="regions")
            if "checked" in box.attrs]


def test_a_second_session_starts_with_the_first_sessions_regions(app, doctor_client):
    user = make_treatable()
    first = ["back.low_back.right", "back.buttock.right", "front.hip.right"]
    record(user, regions=first, hours_ago=50)
    assert sorted(ticked(doctor_client, user)) == sorted(first)
    # The latest session counts, and a cancelled one does not.
    second = record(user, regions=["back.neck.left"], hours_ago=30)
    assert ticked(doctor_client, user) == ["back.neck.left"]
    services.cancel_session(second, second.recorded_by, "Entered for the wrong patient.")
    assert sorted(ticked(doctor_client, user)) == sorted(first)


def test_before_a_first_session_the_intake_body_map_is_a_hint(app, doctor_client):
    user = make_treatable()  # the intake marked the right shoulder (7) and neck (5)
    assert ticked(doctor_client, user) == []
    doc = parse(doctor_client.get(sessions_url(user)).get_data(as_text=True))
    hint = " ".join(doc.by_id("regions-hint").text.split())
    assert ("Where the patient marked pain in the intake (dashed on the pictures): "
            "Shoulder (front), right side; Back of neck, right side.") in hint
    polygons = [p for p in doc.find_all("polygon") if "data-input" in p.attrs]
    dashed = [p.attrs["data-region"] for p in polygons if "bm-hint" in p.attrs["class"].split()]
    assert sorted(dashed) == ["back.neck.right", "front.shoulder.right"]
    # Each picture region answers its checkbox; the zoom covers every region.
    boxes = {box.attrs["id"] for box in doc.find_all("input", name="regions")}
    assert len(polygons) == len(boxes) == 70
    assert {p.attrs["data-input"] for p in polygons} == boxes
    assert all(p.attrs["data-zoom"] for p in polygons)
