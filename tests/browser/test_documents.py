"""Clearance documents end to end in Chromium (SPEC 3, 8.2): a patient on a phone uploads a
photo and two PDFs and watches them go, then be checked by the background worker (one is
refused, with the reason); a practitioner previews the others and says why they cannot be
accepted; the patient reads the reason and sends the right letter; the practitioner accepts
it, and the patient is cleared for IMS. axe-core on every page reached."""
from __future__ import annotations

import io
import random
import re
import threading
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from portal.demo import samples
from portal.documents import content
from portal.documents import services as documents
from tests.browser.helpers import (
    body_font_px,
    check_a11y,
    enter_code,
    horizontal_overflow,
    mailed_link,
    open_menu,
    sign_in,
    small_touch_targets,
    totp_now,
)
from tests.factories import PASSWORD, make_patient, make_practitioner

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
REASON = "This letter is a referral. Please ask your physician to confirm that IMS is safe."

# Records, for every upload progress event, what each file's bar shows.
WATCH_PROGRESS = """() => {
  window.portalProgress = [];
  document.addEventListener("portal:upload-progress", () => {
    window.portalProgress.push(Array.from(
      document.querySelectorAll("[data-upload-list] progress")).map(bar => bar.value));
  });
}"""


def phone_photo() -> bytes:
    """A photo as a phone takes it: large, noisy (so a few MB), with EXIF."""
    rng = random.Random(7)
    image = samples.letter_image(samples.clearance_lines("Margaret Côté"), (1500, 2000))
    noise = Image.frombytes("L", image.size, bytes(rng.getrandbits(8) for _ in range(
        image.size[0] * image.size[1] // 16)) * 16)
    image = Image.blend(image, Image.merge("RGB", (noise, noise, noise)), 0.08)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def check_phone(page: Page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"
    assert body_font_px(page) >= 16
    assert small_touch_targets(page) == [], f"{name}: touch targets under 44 px"


def patient_uploads(page: Page, base: str, files: dict, shot: str) -> None:
    """Chooses files (``{"files": [...], "photo": ...}``) and uploads them with htmx,
    checking that each file gets its own progress bar and that every bar reaches 100%."""
    page.evaluate(WATCH_PROGRESS)
    if files.get("files"):
        page.locator("#files").set_input_files(files["files"])
    if files.get("photo"):
        page.locator("#photo").set_input_files(files["photo"])
    count = len(files.get("files", [])) + (1 if files.get("photo") else 0)
    items = page.locator("[data-upload-list] .upload-item")
    expect(items).to_have_count(count)
    expect(page.locator("[data-upload-list] progress")).to_have_count(count)
    check_a11y(page, f"{shot}-chosen")
    with page.expect_response(lambda r: r.url.endswith("/me/documents/upload")) as answer:
        page.get_by_role("button", name="Upload", exact=True).tap()
    assert answer.value.request.headers.get("hx-request") == "true"
    assert answer.value.status == 200
    progress = page.evaluate("() => window.portalProgress")
    assert progress, "no upload progress event"
    assert progress[-1] == [100] * count, progress


def test_clearance_from_upload_to_cleared(open_page, live_server, monkeypatch):
    base, smtp = live_server.url, live_server.smtp
    patient = make_patient(name="Margaret Côté")
    doctor = make_practitioner(name="Dr. Jordan Lee")
    # The worker (threads of this process) waits for the test's word before checking, so
    # that the page is seen while the files are being checked.
    may_check = threading.Event()
    real_prepare = content.prepare

    def prepare_when_allowed(*args, **kwargs):
        may_check.wait(30)
        return real_prepare(*args, **kwargs)
    monkeypatch.setattr(content, "prepare", prepare_when_allowed)

    # --- the patient, on a phone: a photo and a PDF --------------------------------------
    phone = open_page(**PHONE)
    sign_in(phone, base, patient.email, PASSWORD)
    expect(phone).to_have_url(f"{base}/me/")
    expect(phone.get_by_role("heading", name="Upload your physician's clearance")).to_be_visible()
    check_phone(phone, "documents-phone-home")
    open_menu(phone)
    phone.get_by_role("navigation").get_by_role("link", name="My documents").tap()
    expect(phone).to_have_url(f"{base}/me/documents/")
    expect(phone.get_by_label("Or take a photo of the letter")).to_be_visible()  # the camera
    check_phone(phone, "documents-phone-empty")

    letter = samples.pdf(["Dr. A. Brown, Family Medicine", "Referral for physiotherapy"])
    scripted = samples.pdf(["Clearance"], catalog_extra=b" /OpenAction 6 0 R",
                           extra_objects=(b"<< /S /JavaScript /JS (app.alert(1)) >>",))
    patient_uploads(phone, base, {
        "files": [{"name": "letter.pdf", "mimeType": "application/pdf", "buffer": letter},
                  {"name": "scripted.pdf", "mimeType": "application/pdf", "buffer": scripted}],
        "photo": {"name": "image.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()},
    }, "documents-phone")
    expect(phone.locator("#flash")).to_contain_text("Your 3 files were uploaded.")
    # Stored at once, then checked by the worker: each line says so, and asks for itself.
    listed = phone.locator(".doc-list .doc")
    expect(listed).to_have_count(3)
    for name in ("letter.pdf", "scripted.pdf", "image.jpg"):
        expect(listed.filter(has_text=name)).to_contain_text("Checking…")
    expect(phone.get_by_role("heading", name="We are checking your clearance")).to_be_visible()
    check_phone(phone, "documents-phone-checking")

    may_check.set()
    for name in ("letter.pdf", "image.jpg"):
        expect(listed.filter(has_text=name)).to_contain_text("Waiting for review",
                                                             timeout=15_000)
    refused = listed.filter(has_text="scripted.pdf")
    expect(refused).to_contain_text("Refused", timeout=15_000)
    expect(refused).to_contain_text("scripted.pdf contains scripts (small programs")
    expect(phone.get_by_role("heading", name="Your clearance is waiting for review")) \
        .to_be_visible()
    check_phone(phone, "documents-phone-checked")
    refused.get_by_role("button", name="Remove from the list scripted.pdf").tap()
    expect(phone.locator("#flash")).to_contain_text("scripted.pdf was removed from your list.")
    expect(listed).to_have_count(2)
    check_phone(phone, "documents-phone-pending")

    # --- the practitioner: the worklist, previews, and "not accepted" --------------------
    desk = open_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, base, doctor.email, PASSWORD)
    enter_code(desk, totp_now(doctor.totp_secret_plain))
    expect(desk).to_have_url(f"{base}/clinic/")
    queue = desk.get_by_role("region", name=re.compile("Clearances to review"))
    expect(queue).to_contain_text("Margaret Côté")
    expect(queue).to_contain_text("2 files")
    check_a11y(desk, "documents-worklist")
    queue.get_by_role("link", name=re.compile("Review")).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Margaret Côté")
    expect(desk.locator("#chart-panel-title")).to_have_text("Documents")
    previews = desk.locator("img.doc__preview")
    expect(previews).to_have_count(2)
    for i in range(2):
        previews.nth(i).scroll_into_view_if_needed()
        expect(previews.nth(i)).to_have_js_property("complete", True)
        assert previews.nth(i).evaluate("img => img.naturalWidth") > 100
    check_a11y(desk, "documents-review")

    sent = len(smtp.messages)
    for name in ("letter.pdf", "image.jpg"):
        card = desk.locator(".doc", has_text=name)
        card.get_by_label("Reason the patient will see").fill(REASON)
        card.get_by_role("button", name=f"Do not accept {name}").click()
        expect(desk.locator("#flash")).to_contain_text(f"{name} was not accepted.")
        expect(desk.locator(".doc", has_text=name)).to_contain_text("Not accepted")
    expect(desk.locator("#patient-documents")).to_contain_text("Not cleared for IMS")
    check_a11y(desk, "documents-rejected")
    link = mailed_link(smtp, "/me/documents/", sent)
    assert link.endswith("/me/documents/")
    mail = smtp.parsed()[-1].get_body(preferencelist=("plain",)).get_content()
    assert "news" in mail and "referral" not in mail.lower() and "clearance" not in mail.lower()

    # --- the patient reads why, and sends the right letter -------------------------------
    phone.goto(link)
    expect(phone.get_by_role("heading", name="Your clearance was not accepted")).to_be_visible()
    expect(phone.locator(".notice")).to_contain_text(REASON)
    check_phone(phone, "documents-phone-rejected")
    clearance = samples.pdf(samples.clearance_lines("Margaret Côté"))
    patient_uploads(phone, base, {"files": [
        {"name": "clearance.pdf", "mimeType": "application/pdf", "buffer": clearance}]},
        "documents-phone-again")
    expect(phone.get_by_role("heading", name="Your clearance is waiting for review")) \
        .to_be_visible()
    expect(phone.locator(".doc", has_text="letter.pdf")).to_contain_text(
        "You have uploaded a new one since.")

    # --- the practitioner accepts it ------------------------------------------------------
    desk.reload()
    card = desk.locator(".doc", has_text="clearance.pdf")
    expect(card.get_by_role("button", name="Accept clearance.pdf", exact=True)).to_be_visible()
    until = documents.today() + timedelta(days=365)
    letter = documents.today() - timedelta(days=3)
    card.get_by_label("Date of the physician's letter").fill(letter.isoformat())
    card.get_by_label("Valid until (optional)").fill(until.isoformat())
    card.get_by_role("button", name="Accept clearance.pdf", exact=True).click()
    expect(desk.locator("#flash")).to_contain_text("clearance.pdf accepted.")
    expect(desk.locator("#patient-documents")).to_contain_text("Cleared for IMS")
    check_a11y(desk, "documents-accepted")
    desk.get_by_role("navigation").get_by_role("link", name="Worklist").click()
    expect(desk.get_by_role("region", name=re.compile("Clearances to review"))).to_contain_text(
        "No clearances are waiting for review.")

    # --- the patient is cleared -----------------------------------------------------------
    phone.reload()
    expect(phone.get_by_role("heading", name="You are cleared for IMS")).to_be_visible()
    check_phone(phone, "documents-phone-cleared")
    open_menu(phone)
    phone.get_by_role("navigation").get_by_role("link", name="My home").tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Hello, Margaret Côté")
    expect(phone.locator("main")).not_to_contain_text("physician's clearance")
    assert documents.is_cleared(patient.patient)


def test_errors_by_the_field_and_focus_on_the_summary(open_page, live_server):
    """A disguised file: the form comes back with the error by the field, focus on the
    summary; a file over the limit is caught before it is sent."""
    patient = make_patient(name="Robert Gill")
    page = open_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, patient.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/me/")
    page.goto(f"{live_server.url}/me/documents/")
    page.locator("#files").set_input_files([{"name": "clearance.pdf", "mimeType": "application/pdf",
                                             "buffer": b"<html><script>alert(1)</script></html>"}])
    page.get_by_role("button", name="Upload", exact=True).click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("clearance.pdf is not a PDF, JPEG, PNG or HEIC file.")
    expect(page.locator("#files")).to_have_attribute("aria-invalid", "true")
    check_a11y(page, "documents-upload-error")

    # Drag and drop is offered on a desktop; the camera field is not.
    expect(page.get_by_text("You can also drag files here.")).to_be_visible()
    expect(page.locator("#photo")).to_be_hidden()

    # A file dropped on the chooser is chosen.
    page.evaluate("""() => {
      const data = new DataTransfer();
      data.items.add(new File(["%PDF-1.7"], "dropped.pdf", {type: "application/pdf"}));
      const zone = document.querySelector("[data-dropzone]");
      zone.dispatchEvent(new DragEvent("dragover", {bubbles: true, dataTransfer: data}));
      zone.dispatchEvent(new DragEvent("drop", {bubbles: true, dataTransfer: data}));
    }""")
    expect(page.locator("[data-upload-list]")).to_contain_text("dropped.pdf")
    assert page.locator("#files").evaluate("input => input.files[0].name") == "dropped.pdf"

    big = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024 + 1)
    page.locator("#files").set_input_files([{"name": "huge.pdf", "mimeType": "application/pdf",
                                             "buffer": big}])
    expect(page.locator("[data-upload-list]")).to_contain_text("Too large: at most 10 MB")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_timeout(300)
    assert requests == []  # not sent
