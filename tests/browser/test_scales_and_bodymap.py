"""On a 320 px phone (the narrowest in use), the 0-10 scales are one number line and the body
map is usable by thumb (SPEC 8.2: touch targets at least 44 px where drawn, no sideways
scroll). Measured in a real browser where people tap: the box, not only the number."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import check_a11y, horizontal_overflow, sign_in
from tests.factories import PASSWORD, make_patient
from tests.intake.helpers import make_intake
from tests.treatment.helpers import make_treatable, record

pytestmark = pytest.mark.browser

NARROW = {"viewport": {"width": 320, "height": 640}, "device_scale_factor": 2,
          "is_mobile": True, "has_touch": True}

# Each scale on the page: how many rows its options take, its number of options, the
# smallest option box (the label, which fills it) and whether the words of its ends show.
_SCALES_JS = """
() => Array.from(document.querySelectorAll('.choices--scale')).map(group => {
  const boxes = Array.from(group.querySelectorAll('.choice'));
  const labels = boxes.map(b => b.querySelector('label').getBoundingClientRect());
  const ends = group.parentElement.querySelector('.scale-anchors');
  return {
    name: group.closest('fieldset').querySelector('legend').innerText.slice(0, 40),
    rows: new Set(boxes.map(b => b.offsetTop)).size,
    options: boxes.length,
    height: Math.min(...labels.map(r => r.height)),
    width: Math.min(...labels.map(r => r.width)),
    boxHeight: Math.min(...boxes.map(b => b.getBoundingClientRect().height)),
    ends: ends ? ends.innerText.replace(/\\s+/g, ' ').trim() : '',
  };
})
"""


def check_scales(page: Page, count: int) -> list[dict]:
    scales = page.evaluate(_SCALES_JS)
    assert len(scales) == count, scales
    for s in scales:
        assert s["options"] == 11, s
        assert s["rows"] == 1, f"not one line: {s}"
        assert s["height"] >= 44, f"shorter than 44 px where tapped: {s}"
        # The label is the whole box, and never under WCAG 2.5.8's 24 px.
        assert s["height"] >= s["boxHeight"] - 4.5, s
        assert s["width"] >= 24, f"narrower than 24 px: {s}"
        assert s["ends"], f"no words at the ends: {s}"
    assert horizontal_overflow(page) == 0
    return scales


def tap_corner(page: Page, group, number: str) -> None:
    """Taps the top-left corner of a number's box, away from the number itself."""
    box = group.locator(".choice").filter(has=page.locator(f"input[value='{number}']"))
    box.tap(position={"x": 4, "y": 4})
    expect(box.locator("input")).to_be_checked()


def test_intake_scales_are_one_line_on_a_narrow_phone(open_page, live_server):
    user = make_patient(name="Ada Narrow")
    make_intake(user, submit=False)
    page = open_page(**NARROW)
    sign_in(page, live_server.url, user.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/me/")
    page.goto(f"{live_server.url}/me/intake/2")
    scales = check_scales(page, 5)
    assert scales[0]["ends"] == "No pain Worst pain you can imagine"
    tap_corner(page, page.locator("#question-nprs_now"), "10")
    tap_corner(page, page.locator("#question-nprs_now"), "0")
    # Screen readers hear the words of the ends with their numbers: "0 (no pain)".
    now = page.locator("#question-nprs_now")
    expect(now.get_by_role("radio", name="0 (no pain)")).to_be_checked()
    expect(now.get_by_role("radio", name="10 (worst pain you can imagine)")).to_have_count(1)
    # A radio group: the arrow keys move along the line.
    now.get_by_role("radio", name="0 (no pain)").focus()
    page.keyboard.press("ArrowRight")
    expect(now.get_by_role("radio", name="1", exact=True)).to_be_checked()
    check_a11y(page, "scales-320-intake-step2")


def test_rating_scales_are_one_line_on_a_narrow_phone(open_page, live_server):
    user = make_treatable(name="Bea Narrow")
    session = record(user)
    page = open_page(**NARROW)
    sign_in(page, live_server.url, user.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/me/")
    page.goto(f"{live_server.url}/me/sessions/{session.public_id}/rating")
    scales = check_scales(page, 3)
    assert [s["ends"] for s in scales] == [
        "No pain The worst pain you can imagine", "No pain The worst pain you can imagine",
        "Not sore at all Extremely sore"]
    tap_corner(page, page.locator("fieldset").filter(has_text="How sore were"), "7")
    check_a11y(page, "scales-320-rating")
