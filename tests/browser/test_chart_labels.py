"""The charts' words as drawn in Chromium (issue 15): axis and label text at least 14 px on a
phone (the SVG scales with its viewBox, so its text shrinks with it unless the stylesheet
makes it larger in the SVG's own units), every label inside the drawing, and each chart
saying which way is better. Patient's progress, the chart's ratings tab, the clinic's
outcomes; 320, 390 and 1280 px."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import enter_code, next_totp, sign_in, totp_now
from tests.factories import PASSWORD, make_practitioner
from tests.treatment.helpers import history, make_treatable

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1280)
SMALLEST = 14

# For each chart: the smallest text as drawn (font size in the SVG's units times its
# scale) and how far any label pokes out of the drawing.
_MEASURE = """() => Array.from(document.querySelectorAll("svg.chart__svg")).map(svg => {
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  const texts = Array.from(svg.querySelectorAll("text"));
  const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
  const outside = Math.max(0, ...texts.map(t => {
    const r = t.getBoundingClientRect();
    return Math.max(box.left - r.left, r.right - box.right, box.top - r.top,
                    r.bottom - box.bottom);
  }));
  return {id: svg.getAttribute("aria-labelledby"), smallest: Math.min(...sizes), outside};
})"""


def _check(page: Page, where: str, expected_better: list[str]) -> None:
    charts = page.evaluate(_MEASURE)
    assert charts, where
    for chart in charts:
        assert chart["smallest"] >= SMALLEST - 0.05, (where, chart)
        assert chart["outside"] <= 1, (where, chart)
    better = page.locator(".chart__better")
    expect(better).to_have_count(len(expected_better))
    for i, words in enumerate(expected_better):
        expect(better.nth(i)).to_be_visible()
        expect(better.nth(i)).to_contain_text(words)


def test_patient_progress_labels(open_page, live_server):
    base = live_server.url
    user = make_treatable(name="Margaret Côté", baseline=7)
    history(user, [6, 5, 5, 4, 3, 3, 2, 3, 2, 2, 1, 2])
    for width in WIDTHS:
        page = open_page(viewport={"width": width, "height": 800})
        sign_in(page, base, user.email, PASSWORD)
        expect(page).to_have_url(f"{base}/me/")
        page.goto(f"{base}/me/progress")
        _check(page, f"progress at {width} px", ["Lower is better", "Higher is better"])


def test_french_progress_labels_on_a_small_phone(open_page, live_server, translate):
    base = live_server.url
    user = make_treatable(name="Isabelle Roy", baseline=4, locale="fr_CA")
    history(user, [5, 6, 6])
    page = open_page(viewport={"width": 320, "height": 700}, locale="fr-CA")
    sign_in(page, base, user.email, PASSWORD, t=translate("fr_CA"))
    expect(page).to_have_url(f"{base}/me/")
    page.goto(f"{base}/me/progress")
    expect(page.locator(".change-sentence")).to_have_text(
        "Votre douleur a été plus forte ces derniers temps. Votre praticien en parlera avec "
        "vous.")
    _check(page, "French progress at 320 px", ["Plus bas, c'est mieux", "Plus haut, c'est mieux"])


def test_staff_chart_and_outcomes_labels(open_page, live_server):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Jordan Lee")
    user = make_treatable(name="Margaret Côté", baseline=7)
    history(user, [6, 5, 4, 4, 3, 9], practitioner=doctor)
    for width in (320, 1280):
        page = open_page(viewport={"width": width, "height": 800})
        sign_in(page, base, doctor.email, PASSWORD)
        # A code serves once: the second sign-in takes the next one.
        enter_code(page, (totp_now if width == 320 else next_totp)(doctor.totp_secret_plain))
        expect(page).to_have_url(f"{base}/clinic/")
        page.goto(f"{base}/clinic/patients/{user.patient.public_id}/ratings")
        _check(page, f"ratings tab at {width} px", ["Lower is better", "Higher is better"])
        page.goto(f"{base}/clinic/outcomes")
        _check(page, f"outcomes at {width} px", ["Lower is better"])
