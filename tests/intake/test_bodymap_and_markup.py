"""The body-map catalogue (one module, reused by treatment) and intake pages the strict CSP
can live with: no inline script or style, the SVG coloured by classes only."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from portal.intake import bodymap
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import make_intake
from tests.markup import parse


def test_at_least_30_regions_a_side_with_left_and_right():
    for view in bodymap.VIEWS:
        regions = bodymap.by_view(view)
        assert len(regions) >= 30, view
        sides = Counter(r.side for r in regions)
        assert sides["left"] == sides["right"]
        for region in regions:
            assert re.fullmatch(rf"{view}\.[a-z_]+\.(left|right)", region.code)
            assert region.labels["en"] and region.labels["fr_CA"]
            twin = region.code.rsplit(".", 1)[0] + (".left" if region.side == "right" else ".right")
            assert bodymap.is_region(twin)
    codes = [r.code for r in bodymap.regions()]
    assert len(codes) == len(set(codes))
    assert bodymap.label("front.shoulder.left", "fr_CA") == "Épaule (avant), côté gauche"
    assert bodymap.label("back.low_back.right", "en") == "Low back, right side"


def test_the_patients_right_is_drawn_on_the_correct_side():
    def mean_x(code):
        xs = [float(p.split(",")[0]) for p in bodymap.region(code).points.split()]
        return sum(xs) / len(xs)
    # Front view: the patient faces us, so their right is on our left.
    assert mean_x("front.hand.right") < 100 < mean_x("front.hand.left")
    # Back view: we see their back, so their right is on our right.
    assert mean_x("back.hand.left") < 100 < mean_x("back.hand.right")


@pytest.fixture
def pages(client, auth):
    user = make_patient()
    auth.login(user)
    got = {f"step {n}": client.get(f"/me/intake/{n}") for n in range(1, 8)}
    got["home"] = client.get("/me/")
    client.post("/auth/logout")
    sent = make_patient()
    make_intake(sent, rf_cancer="yes")
    auth.login(sent)
    got["summary"] = client.get("/me/intake/summary")
    got["amend"] = client.get("/me/intake/amend/2")
    got["consent"] = client.get("/me/intake/consent")
    client.post("/auth/logout")
    auth.login(make_practitioner())
    got["staff"] = client.get(f"/clinic/patients/{sent.patient.public_id}/intake")
    got["worklist"] = client.get("/clinic/")
    return got


def test_no_inline_script_style_or_handler(pages):
    for name, response in pages.items():
        assert response.status_code == 200, name
        doc = parse(response.get_data(as_text=True))
        for script in doc.find_all("script"):
            assert script.attrs.get("src") and not script.text.strip(), name
        assert not doc.find_all("style"), name
        assert not [e.tag for e in doc.elements if "style" in e.attrs], name
        assert not [a for e in doc.elements for a in e.attrs if a.startswith("on")], name


def test_the_body_map_has_both_views_and_the_list_fallback(pages):
    doc = parse(pages["step 2"].get_data(as_text=True))
    polygons = doc.find_all("polygon")
    assert len(polygons) == len(bodymap.regions())
    assert all(p.attrs["class"].startswith("bm-region") for p in polygons)
    # (The zoom's select has no name: it chooses what to see, it is not an answer.)
    selects = [s for s in doc.find_all("select")
               if s.attrs.get("name", "").startswith("pain_map-")]
    assert len(selects) == len(bodymap.regions())
    for select in selects[:3]:
        assert doc.find_all("label", **{"for": select.attrs["id"]})
    legends = [e.text.strip() for e in doc.find_all("legend")]
    assert "Front: shoulders and arms" in legends and "Back: back and buttocks" in legends
    progress = doc.find_all("progress")[0]
    assert progress.attrs["value"] == "2" and progress.attrs["max"] == "7"
