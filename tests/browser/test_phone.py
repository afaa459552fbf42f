"""A patient on a phone (SPEC intro, 8.2): the pages fit a 390 px screen without sideways
scrolling, text is at least 16 px and what people tap is at least 44 px."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import body_font_px, check_a11y, horizontal_overflow, small_touch_targets
from tests.factories import PASSWORD, make_patient

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def check_phone_layout(page: Page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"
    assert body_font_px(page) >= 16
    assert small_touch_targets(page) == [], f"{name}: touch targets under 44 px"


def test_patient_on_a_phone(open_page, live_server):
    patient = make_patient(name="Margaret Côté")
    base = live_server.url
    page = open_page(**PHONE)

    page.goto(f"{base}/auth/login")
    check_phone_layout(page, "phone-login")
    page.get_by_label("E-mail address").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).tap()

    expect(page).to_have_url(f"{base}/me/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Margaret Côté")
    check_phone_layout(page, "phone-home")

    # The header is the clinic's name and a menu button (issue 15); the menu opens without
    # script (a disclosure) and closes again with Escape.
    header = page.locator(".site-header").bounding_box()
    assert header and header["height"] <= 64, f"the header is {header} tall"
    nav = page.get_by_role("navigation", name="Main menu")
    expect(nav).to_be_hidden()
    page.locator("[data-site-menu] > summary").tap()
    expect(nav).to_be_visible()
    check_phone_layout(page, "phone-menu")
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    page.locator("[data-site-menu] > summary").tap()
    nav.get_by_role("link", name="My account").tap()
    expect(page).to_have_url(f"{base}/auth/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    check_phone_layout(page, "phone-account")


def test_the_menu_opens_without_javascript(open_page, live_server):
    """The menu is a disclosure the browser opens by itself (SPEC 8.3)."""
    patient = make_patient(name="Margaret Côté")
    base = live_server.url
    page = open_page(java_script_enabled=False, **PHONE)
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail address").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).tap()
    expect(page).to_have_url(f"{base}/me/")

    sign_out = page.get_by_role("button", name="Sign out", exact=True)
    expect(sign_out).to_be_hidden()
    page.locator("[data-site-menu] > summary").tap()
    expect(page.get_by_role("navigation", name="Main menu")
           .get_by_role("link", name="My documents")).to_be_visible()
    sign_out.tap()
    expect(page).to_have_url(f"{base}/auth/login")
