"""On a 320 px phone (the narrowest in use), the 0-10 scales are one number line and the body
map is usable by thumb (SPEC 8.2: touch targets at least 44 px where drawn, no sideways
scroll). Measured in a real browser where people tap: the box, not only the number."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    check_a11y,
    enter_code,
    horizontal_overflow,
    sign_in,
    totp_now,
)
from tests.factories import PASSWORD, make_patient, make_practitioner
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


# --- the body map ---------------------------------------------------------------------------

# The regions a tap can mark now (the zoomed part's), each with its box on the screen.
_TARGETS_JS = """
(root) => Array.from(document.querySelectorAll(root + ' .bm-region[role=button]')).map(p => {
  const r = p.getBoundingClientRect();
  return {region: p.dataset.region, width: r.width, height: r.height};
})
"""


def zoom_parts(page: Page, root: str) -> list[str]:
    return page.locator(f"{root} [data-bodymap-zoom] option").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)")


def check_every_part(page: Page, root: str) -> None:
    """Every part of the body, zoomed: each region at least 44 px both ways, no sideways
    scroll; together the parts cover every region once."""
    seen = []
    for part in zoom_parts(page, root):
        page.locator(f"{root} [data-bodymap-zoom]").select_option(part)
        targets = page.evaluate(_TARGETS_JS, root)
        assert targets, part
        small = [t for t in targets if min(t["width"], t["height"]) < 44]
        assert small == [], f"{part}: regions under 44 px: {small}"
        assert horizontal_overflow(page) == 0, part
        seen += [t["region"] for t in targets]
    assert len(seen) == len(set(seen)) == 70


def test_the_body_map_zooms_to_thumb_sized_regions_on_a_narrow_phone(open_page, live_server):
    user = make_patient(name="Cleo Narrow")
    make_intake(user, submit=False)
    page = open_page(**NARROW)
    sign_in(page, live_server.url, user.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/me/")
    page.goto(f"{live_server.url}/me/intake/2")
    root = ".bodymap"
    # The whole body: a tap on the wrist shows the arm large; a second tap marks it.
    wrist = page.locator('polygon[data-region="front.wrist.right"]')
    wrist.tap()
    expect(page.locator("[data-bodymap-zoom]")).to_have_value("front.arm_right")
    box = wrist.bounding_box()
    assert box and min(box["width"], box["height"]) >= 44, box
    check_a11y(page, "bodymap-320-zoomed-arm")
    wrist.tap()
    picker = page.locator("[data-bodymap-picker]")
    picker.get_by_role("button", name="4", exact=True).tap()
    expect(wrist).to_have_class("bm-region bm-i-4")
    expect(page.locator("[data-bodymap-marked]")).to_contain_text(
        "Wrist (palm side), right side: 4 out of 10")
    check_every_part(page, root)
    page.get_by_role("button", name="See the whole body").tap()
    expect(page.locator("[data-bodymap-zoom]")).to_have_value("")
    assert horizontal_overflow(page) == 0


def test_a_second_session_starts_with_the_first_sessions_regions(open_page, live_server):
    base = live_server.url
    doctor = make_practitioner(name="Dr. Ana Narrow")
    user = make_treatable(name="Dora Second")
    first = ["back.low_back.right", "back.buttock.right"]
    record(user, doctor, regions=first, hours_ago=50)
    page = open_page(**NARROW)
    sign_in(page, base, doctor.email, PASSWORD)
    enter_code(page, totp_now(doctor.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    page.goto(f"{base}/clinic/patients/{user.patient.public_id}/sessions")
    for code in first:
        expect(page.locator(f'#regions polygon[data-region="{code}"]')).to_have_class(
            "bm-region bm-on")
        expect(page.locator(f"#regions-{code.replace('.', '-')}")).to_be_checked()
    chosen = page.locator("#regions [data-bodymap-marked]")
    expect(chosen).to_contain_text("Low back, right side")
    expect(chosen).to_contain_text("Buttock, right side")
    # One more by the picture: the first tap shows the back large, the second marks it.
    mid = page.locator('#regions polygon[data-region="back.mid_back.right"]')
    mid.tap()
    expect(page.locator("#regions [data-bodymap-zoom]")).to_have_value("back.trunk")
    mid.tap()
    expect(mid).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#regions-back-mid_back-right")).to_be_checked()
    expect(chosen).to_contain_text("Middle back, right side")
    check_a11y(page, "bodymap-320-record-session")
    check_every_part(page, "#regions")
    page.get_by_role("button", name="Record the session").tap()
    expect(page.locator("#flash")).to_contain_text("The patient will be asked to rate it.")
    expect(page.locator(".session-list .session").first).to_contain_text(
        "Middle back, right side; Low back, right side; Buttock, right side")
    # The form drawn again after the swap starts from the session just recorded.
    expect(page.locator('#regions polygon[data-region="back.mid_back.right"]')).to_have_class(
        "bm-region bm-on")
