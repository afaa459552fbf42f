"""My record in Chromium on a phone (SPEC 11.1, 8.2): a patient signs in, opens "My record"
from the menu, is asked for their password (a wrong one is named by its field), opens the
readable record, and downloads the FHIR bundle, read to its last byte and parsed. No axe
violation on the way, and every page fits the 390 px screen."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_a11y, horizontal_overflow, open_menu, sign_in
from tests.factories import PASSWORD, make_document
from tests.treatment.helpers import history, make_treatable

pytestmark = pytest.mark.browser


def test_my_record_on_a_phone(open_page, live_server):
    base = live_server.url
    user = make_treatable(name="Margaret Côté")
    make_document(user, kind="imaging", name="knee-mri.pdf")
    history(user, [5, 4, 3])

    page = open_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                     accept_downloads=True)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    open_menu(page)
    page.get_by_role("link", name="My record", exact=True).click()
    expect(page).to_have_url(f"{base}/me/record")
    expect(page.get_by_role("heading", level=1, name="My record")).to_be_visible()
    check_a11y(page, "my-record-390")
    assert horizontal_overflow(page) == 0

    # The record asks for the password first; a wrong one is named by its field.
    page.get_by_role("link", name="Open my record").click()
    expect(page).to_have_url(f"{base}/me/record/page")
    password = page.get_by_label("Your password")
    expect(password).to_be_visible()
    check_a11y(page, "record-confirm-390")
    password.fill("not my password")
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.locator("#confirm-password-error")).to_contain_text(
        "Your current password is not correct.")
    expect(page.locator("body")).not_to_contain_text("knee-mri.pdf")
    check_a11y(page, "record-confirm-wrong-390")
    assert horizontal_overflow(page) == 0

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page).to_have_url(f"{base}/me/record/page")
    expect(page.get_by_role("heading", level=1, name="My record")).to_be_visible()
    expect(page.locator("#record-documents")).to_contain_text("knee-mri.pdf")
    expect(page.locator("#record-sessions")).to_contain_text("Low back")
    check_a11y(page, "record-page-390")
    assert horizontal_overflow(page) == 0

    # Back on the hub, the bundle downloads at once (the password is kept 10 minutes).
    page.get_by_role("link", name="Back to my record").first.click()
    expect(page.locator("#record-confirmed")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download my record (FHIR)").click()
    download = info.value
    assert download.suggested_filename.endswith("-fhir.json")
    data = Path(download.path()).read_bytes()
    bundle = json.loads(data.decode("utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "QuestionnaireResponse", "Observation", "DocumentReference"} <= kinds
    names = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert names[0]["name"] == [{"text": "Margaret Côté"}]
