"""The intake in a real browser (SPEC 2, 8.2): a patient fills it on a phone, body map
included, closes the page half-way and finds every answer when coming back; then a French
patient does it with the keyboard only. axe-core on every step, screenshots in
test-artifacts/."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from portal.extensions import db
from portal.intake import services
from portal.models import ConsentSignature, Patient, User
from tests.browser.helpers import (
    body_font_px,
    check_a11y,
    horizontal_overflow,
    sign_in,
    small_touch_targets,
)
from tests.factories import PASSWORD, make_patient

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
YES_NO = ["rf_saddle_numbness", "rf_bladder_bowel", "rf_leg_weakness", "rf_injury",
          "rf_fragile_bones", "rf_cancer", "rf_weight_loss", "rf_night_pain", "rf_fever",
          "rf_abdominal_pulse", "rf_drug_injection", "immune_suppression",
          "pc_bleeding_disorder", "pc_anticoagulant", "pc_needle_fear", "pc_skin",
          "pc_metal_allergy", "pc_implant", "pc_lymphoedema", "pc_unhealed_fracture",
          "rf_spinal_surgery"]


def check_phone(page: Page, name: str) -> None:
    check_a11y(page, name)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"
    assert body_font_px(page) >= 16
    assert small_touch_targets(page) == [], f"{name}: touch targets under 44 px"


def question(page: Page, qid: str) -> Locator:
    return page.locator(f"#question-{qid}")


def at_step(page: Page, n: int, t=lambda s, **k: s % k if k else s) -> None:
    expect(page).to_have_url(re.compile(rf"/me/intake/{n}$"))
    expect(page.locator("h1")).to_contain_text(t("Step %(n)d of %(total)d", n=n, total=7))


def saved(page: Page) -> None:
    expect(page.locator("#save-status .save-status__message")).to_be_visible()


def stored_answer(user: User, qid: str, wanted: str, wait: float = 10.0) -> None:
    """Waits until the server holds ``wanted`` for ``qid``: the browser sends it as the page
    goes, and the server may still be writing it when the next page is shown."""
    deadline = time.monotonic() + wait
    while True:
        db.session.expire_all()
        response = services.response_for(db.session.get(Patient, user.patient.id))
        if response is not None and response.answers.get(qid) == wanted:
            return
        assert time.monotonic() < deadline, f"{qid} never saved as {wanted!r}"
        time.sleep(0.05)


# --- a phone, by touch ---------------------------------------------------------------------

def test_a_patient_fills_the_intake_on_a_phone_and_nothing_is_lost(open_page, live_server):
    user = make_patient(name="Margaret Côté")
    base = live_server.url
    page = open_page(**PHONE)
    page.set_default_timeout(10_000)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    intake = page.locator("li.todo").first  # the first thing to do
    expect(intake).to_contain_text("Fill in your intake questionnaire")
    expect(intake).to_contain_text("Not started")
    check_phone(page, "intake-phone-home")
    intake.get_by_role("link", name="Start").tap()

    # 1. About you
    at_step(page, 1)
    check_phone(page, "intake-phone-step1")
    page.get_by_label("Date of birth").fill("1952-03-14")
    question(page, "sex").get_by_label("Female", exact=True).tap()
    page.get_by_label(re.compile(r"^Phone number")).fill("604-555-0142")
    page.get_by_label("Home address").fill("44 Cedar Lane\nVictoria BC V8V 1A1")
    page.get_by_label("Emergency contact: name").fill("Luc Côté")
    page.get_by_label("Emergency contact: phone number").fill("250-555-0199")
    question(page, "referral").get_by_label("Other", exact=True).tap()
    expect(question(page, "referral_other")).to_be_visible()  # the follow-up appears
    page.get_by_label("Please tell us who").fill("My neighbour")
    page.get_by_role("button", name="Save and continue").tap()

    # 2. Your pain, with the body map
    at_step(page, 2)
    page.get_by_label("In your own words, what is the main problem?").fill(
        "My right shoulder and neck hurt when I garden.")
    for region, intensity in (("front.shoulder.right", "7"), ("back.neck.right", "5")):
        # On a phone the first tap shows that part of the body large, the second marks it.
        page.locator(f'polygon[data-region="{region}"]').tap()
        page.locator(f'polygon[data-region="{region}"]').tap()
        picker = page.locator("[data-bodymap-picker]")
        expect(picker).to_be_visible()
        picker.get_by_role("button", name=intensity, exact=True).tap()
        expect(page.locator(f'polygon[data-region="{region}"]')).to_have_class(
            f"bm-region bm-i-{intensity}")
        page.get_by_role("button", name="See the whole body").tap()
    marked = page.locator("[data-bodymap-marked]")
    expect(marked).to_contain_text("Shoulder (front), right side: 7 out of 10")
    expect(marked).to_contain_text("Back of neck, right side: 5 out of 10")
    question(page, "onset").get_by_label("1 to 5 years ago").tap()
    question(page, "pattern").get_by_label("No, it comes and goes").tap()
    page.get_by_label("In the past 7 days, on how many days did you have this pain?").fill("5")
    for qid, value in (("nprs_now", "6"), ("nprs_average", "5"), ("nprs_worst", "8"),
                       ("peg_enjoyment", "6"), ("peg_activity", "7")):
        question(page, qid).get_by_label(value, exact=True).tap()
    saved(page)
    check_phone(page, "intake-phone-step2")
    page.get_by_role("button", name="Save and continue").tap()

    # 3. Activities (PSFS)
    at_step(page, 3)
    page.get_by_label("Activity", exact=True).first.fill("Gardening")
    page.locator("#q-psfs-0-score").select_option("3")
    page.get_by_role("button", name="Add another activity").tap()
    page.locator("#q-psfs-1-activity").fill("Reaching a high shelf")
    page.locator("#q-psfs-1-score").select_option("4")
    check_phone(page, "intake-phone-step3")
    page.get_by_role("button", name="Save and continue").tap()

    # 4. History: typed, autosaved, then the page is closed half-way.
    at_step(page, 4)
    question(page, "previous_treatments").get_by_label("Massage").tap()
    page.get_by_label("Which medicines do you take now?").fill("Naproxen 250 mg twice a day")
    saved(page)
    check_phone(page, "intake-phone-step4")
    context = page.context
    page.close()

    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/me/")
    intake = page.locator("li.todo").first
    expect(intake).to_contain_text("In progress: step 4 of 7.")
    intake.get_by_role("link", name="Continue").tap()
    at_step(page, 4)
    expect(page.get_by_label("Which medicines do you take now?")).to_have_value(
        "Naproxen 250 mg twice a day")
    expect(question(page, "previous_treatments").get_by_label("Massage")).to_be_checked()
    # Earlier steps are all there too, body map included.
    page.goto(f"{base}/me/intake/2")
    expect(page.locator('polygon[data-region="front.shoulder.right"]')).to_have_class(
        "bm-region bm-i-7")
    expect(page.locator("#q-pain-map-back-neck-right")).to_have_value("5")
    expect(question(page, "nprs_worst").get_by_label("8", exact=True)).to_be_checked()
    page.goto(f"{base}/me/intake/1")
    expect(page.get_by_label("Please tell us who")).to_have_value("My neighbour")
    page.goto(f"{base}/me/intake/4")
    page.get_by_role("button", name="Save and continue").tap()

    # 5. Safety
    at_step(page, 5)
    for qid in YES_NO:
        question(page, qid).get_by_label("No", exact=True).tap()
    question(page, "pc_pregnancy").get_by_label("Does not apply to me").tap()
    check_phone(page, "intake-phone-step5")
    page.get_by_role("button", name="Save and continue").tap()

    # 6. Consent
    at_step(page, 6)
    expect(page.locator(".consent__text")).to_contain_text("pneumothorax")
    page.get_by_label("Type your full name").fill("Margaret Côté")
    page.get_by_label("I have read this consent and I agree to IMS treatment.").tap()
    check_phone(page, "intake-phone-step6")
    page.get_by_role("button", name="Save and continue").tap()

    # 7. Review and send
    at_step(page, 7)
    expect(page.locator("body")).not_to_contain_text("Some required answers are missing")
    expect(page.locator("body")).to_contain_text("Reaching a high shelf: 4 out of 10")
    check_phone(page, "intake-phone-step7")
    page.get_by_role("button", name="Send my questionnaire").tap()
    expect(page).to_have_url(f"{base}/me/intake/summary")
    expect(page.locator("#flash")).to_contain_text("Your questionnaire is sent")
    check_phone(page, "intake-phone-sent")

    db.session.expire_all()
    response = services.response_for(db.session.get(Patient, user.patient.id))
    assert response.submitted
    assert response.answers["pain_map"] == {"front.shoulder.right": 7, "back.neck.right": 5}
    assert response.answers["medications"] == "Naproxen 250 mg twice a day"
    assert response.scores["psfs"] == 3.5


# --- French, keyboard only -----------------------------------------------------------------

def focused(locator: Locator) -> bool:
    return locator.evaluate("el => el === document.activeElement")


def tab_to(page: Page, locator: Locator, limit: int = 250) -> None:
    """Press Tab until ``locator`` has the focus (as a keyboard user would)."""
    for _ in range(limit):
        if focused(locator):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def type_into(page: Page, locator: Locator, text: str) -> None:
    tab_to(page, locator)
    page.keyboard.type(text)


def choose(page: Page, group: Locator, label: str) -> None:
    """Tab into a radio group, then arrow keys to the option (space on the first)."""
    radios = group.get_by_role("radio")
    tab_to(page, radios.first)
    target = group.get_by_label(label, exact=True)
    if focused(target):
        page.keyboard.press("Space")
    for _ in range(radios.count()):
        if target.is_checked():
            break
        page.keyboard.press("ArrowDown")
    expect(target).to_be_checked()


def press_button(page: Page, name: str) -> None:
    button = page.get_by_role("button", name=name, exact=True)
    tab_to(page, button)
    page.keyboard.press("Enter")


def test_in_french_with_the_keyboard_only(open_page, live_server, translate):
    t = translate("fr_CA")
    user = make_patient(name="Isabelle Roy", locale="fr_CA")
    base = live_server.url
    page = open_page(locale="fr-CA")
    page.set_default_timeout(10_000)
    sign_in(page, base, user.email, PASSWORD, t=t)
    expect(page).to_have_url(f"{base}/me/")
    expect(page.locator("html")).to_have_attribute("lang", "fr-CA")
    start = page.locator("li.todo").first.get_by_role("link")
    tab_to(page, start)
    page.keyboard.press("Enter")

    # 1. À propos de vous
    at_step(page, 1, t)
    expect(page.locator("h1")).to_contain_text("À propos de vous")
    check_a11y(page, "intake-fr-step1")
    # Chromium's date field takes month, day, year as typed digits, in any page language.
    type_into(page, page.get_by_label("Date de naissance"), "11021958")
    expect(page.get_by_label("Date de naissance")).to_have_value("1958-11-02")
    choose(page, question(page, "sex"), "Féminin")
    type_into(page, page.get_by_label(re.compile("^Numéro de téléphone")), "514-555-0101")
    type_into(page, page.get_by_label("Adresse du domicile"), "12, rue Principale, Gatineau")
    type_into(page, page.get_by_label("Personne à joindre en cas d'urgence : nom"), "Marc Roy")
    type_into(page, page.get_by_label("Personne à joindre en cas d'urgence : téléphone"),
              "819-555-0177")
    expect(question(page, "referral_other")).to_be_hidden()
    press_button(page, t("Save and continue"))

    # 2. Votre douleur: the body map by keyboard.
    at_step(page, 2, t)
    type_into(page, page.get_by_label("Dans vos mots, quel est le problème principal?"),
              "Douleur au bas du dos, côté gauche.")
    # A part of the body first (drawn large), then its regions are in the tab order.
    zoom = page.get_by_label("Voir une partie du corps en plus grand")
    tab_to(page, zoom)
    zoom.select_option("back.trunk")
    region = page.locator('polygon[data-region="back.low_back.left"]')
    tab_to(page, region)
    page.keyboard.press("Enter")
    picker = page.locator("[data-bodymap-picker]")
    expect(picker).to_be_visible()
    tab_to(page, picker.get_by_role("button", name="6", exact=True))
    page.keyboard.press("Enter")
    expect(region).to_be_focused()  # back where the patient was
    expect(region).to_have_attribute("aria-label", re.compile(re.escape(
        "Bas du dos, côté gauche: " + t("%(n)s out of 10", n="6"))))
    expect(picker).to_be_hidden()
    choose(page, question(page, "onset"), "Il y a 3 à 12 mois")
    choose(page, question(page, "pattern"), "Oui, elle est toujours là")
    type_into(page, page.get_by_label(re.compile("combien de jours")), "7")
    for qid, value in (("nprs_now", "5"), ("nprs_average", "4"), ("nprs_worst", "7"),
                       ("peg_enjoyment", "3"), ("peg_activity", "4")):
        choose(page, question(page, qid), value)
    saved(page)
    check_a11y(page, "intake-fr-step2")
    press_button(page, t("Save and continue"))

    # 3. Activités
    at_step(page, 3, t)
    type_into(page, page.locator("#q-psfs-0-activity"), "Passer l'aspirateur")
    tab_to(page, page.locator("#q-psfs-0-score"))
    for _ in range(5):  # "Choisir", 0, 1, 2, 3, 4
        page.keyboard.press("ArrowDown")
    expect(page.locator("#q-psfs-0-score")).to_have_value("4")
    check_a11y(page, "intake-fr-step3")
    press_button(page, t("Save and continue"))

    # 4. Antécédents: nothing required.
    at_step(page, 4, t)
    check_a11y(page, "intake-fr-step4")
    press_button(page, t("Save and continue"))

    # 5. Sécurité: urgent advice at once; a precaution with its follow-ups.
    at_step(page, 5, t)
    choose(page, question(page, "rf_saddle_numbness"), "Oui")
    advice = page.locator('[data-advice-for="rf_saddle_numbness"]')
    expect(advice).to_be_visible()
    expect(advice).to_contain_text("Rendez-vous à l'urgence maintenant")
    check_a11y(page, "intake-fr-step5-advice")
    choose(page, question(page, "rf_saddle_numbness"), "Non")
    expect(advice).to_be_hidden()
    for qid in YES_NO[1:]:
        choose(page, question(page, qid), "Oui" if qid == "pc_anticoagulant" else "Non")
        if qid == "pc_anticoagulant":
            type_into(page, page.get_by_label("Si oui : quel médicament qui éclaircit le sang?"),
                      "Apixaban")
            type_into(page, page.get_by_label("Si oui : quelle dose, et à quelle fréquence?"),
                      "5 mg deux fois par jour")
    choose(page, question(page, "pc_pregnancy"), "Non")
    check_a11y(page, "intake-fr-step5")
    press_button(page, t("Save and continue"))

    # 6. Consentement
    at_step(page, 6, t)
    expect(page.locator(".consent__text")).to_contain_text("pneumothorax")
    type_into(page, page.get_by_label(t("Type your full name")), "Isabelle Roy")
    tab_to(page, page.get_by_label(t("I have read this consent and I agree to IMS treatment.")))
    page.keyboard.press("Space")
    check_a11y(page, "intake-fr-step6")
    press_button(page, t("Save and continue"))

    # 7. Vérifier et envoyer
    at_step(page, 7, t)
    expect(page.locator("body")).to_contain_text("Apixaban")
    check_a11y(page, "intake-fr-step7")
    press_button(page, t("Send my questionnaire"))
    expect(page).to_have_url(f"{base}/me/intake/summary")
    check_a11y(page, "intake-fr-sent")

    db.session.expire_all()
    response = services.response_for(db.session.get(Patient, user.patient.id))
    assert response.submitted and response.answers["pain_map"] == {"back.low_back.left": 6}
    # Born in 1958: over 50, noted for the practitioner (CLINICAL.md, red flags: tumour).
    assert [f["code"] for f in response.flags] == ["anticoagulant", "age_over_50"]
    signature = db.session.query(ConsentSignature).one()
    assert signature.locale == "fr_CA" and signature.typed_name == "Isabelle Roy"


def test_an_invalid_step_moves_focus_to_the_error_summary(page, live_server):
    user = make_patient()
    base = live_server.url
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    page.goto(f"{base}/me/intake/1")
    page.get_by_label("Date of birth").fill("2999-01-01")
    page.get_by_role("button", name="Save and continue").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The date cannot be in the future.")
    check_a11y(page, "intake-errors")
    summary.get_by_role("link", name=re.compile("^Sex")).click()
    expect(page).to_have_url(re.compile(r"#q-sex-0$"))


def test_a_practitioner_reads_a_flagged_intake(page, live_server):
    from tests.browser.helpers import enter_code, totp_now
    from tests.factories import make_practitioner
    from tests.intake.helpers import make_intake

    doctor = make_practitioner(name="Dr. Jordan Lee")
    calm = make_patient(name="Carl Calm")
    make_intake(calm)
    flagged = make_patient(name="Fiona Flagged")
    make_intake(flagged, rf_leg_weakness="yes", pc_anticoagulant="yes",
                pc_anticoagulant_name="Apixaban", pc_anticoagulant_dose="5 mg twice a day",
                pain_map={"back.low_back.left": 8, "back.buttock.left": 6, "back.calf.left": 4})
    base = live_server.url
    sign_in(page, base, doctor.email, PASSWORD)
    enter_code(page, totp_now(doctor.totp_secret_plain))
    expect(page).to_have_url(f"{base}/clinic/")
    intakes = page.locator("#red-flags li")  # a flagged intake waits under red flags
    expect(intakes.first).to_contain_text("Fiona Flagged")
    expect(intakes.first).to_contain_text("1 red flag")
    expect(page.locator("#new-intakes")).to_contain_text("Carl Calm")
    expect(page.locator("#new-intakes")).not_to_contain_text("Fiona Flagged")
    check_a11y(page, "intake-staff-worklist")

    intakes.first.get_by_role("link", name=re.compile("Read the intake")).click()
    expect(page).to_have_url(f"{base}/clinic/patients/{flagged.patient.public_id}/intake")
    red = page.locator(".flag--red-flag").first
    expect(red).to_contain_text("Progressive or both-sided leg weakness or numbness")
    expect(page.locator(".flag", has_text="Takes a blood thinner")).to_contain_text(
        "5 mg twice a day")
    expect(page.locator(".consent-record")).to_contain_text("Fiona Flagged")
    check_a11y(page, "intake-staff-view")
    # Red flags: the review is the clinic's acknowledgement and needs a note (SPEC 5.1).
    page.get_by_role("button", name="Mark as reviewed").click()
    expect(page.locator(".staff-intake__head")).not_to_contain_text("Reviewed")
    page.get_by_label("Your note").fill("Phoned her: sent to emergency for the leg weakness.")
    page.get_by_role("button", name="Mark as reviewed").click()
    expect(page.locator("#flash")).to_contain_text("Intake marked as reviewed.")
    expect(page.locator(".staff-intake__head")).to_contain_text("Reviewed")
    check_a11y(page, "intake-staff-reviewed")


# --- nothing typed is lost (SPEC 2.4, 8.8) ---------------------------------------------------

MEDICINES = "Which medicines do you take now?"
SURGERIES = "Which operations have you had, and when?"


def test_what_was_typed_just_before_leaving_is_there_on_another_device(open_page,
                                                                        live_server):
    """Found: text typed less than the autosave's delay before leaving was never saved.
    Then a stale page of the same step gets the newer answers, and saves again."""
    user = make_patient(name="Nadia Haddad")
    base = live_server.url
    phone = open_page(**PHONE)
    sign_in(phone, base, user.email, PASSWORD)
    expect(phone).to_have_url(f"{base}/me/")
    phone.goto(f"{base}/me/intake/4")
    phone.get_by_label(MEDICINES).fill("Naproxen 250 mg twice a day")
    phone.goto(f"{base}/me/")  # at once: well within the autosave's delay
    stored_answer(user, "medications", "Naproxen 250 mg twice a day")

    laptop = open_page()  # another device, the same patient
    sign_in(laptop, base, user.email, PASSWORD)
    expect(laptop).to_have_url(f"{base}/me/")
    laptop.goto(f"{base}/me/intake/4")
    expect(laptop.get_by_label(MEDICINES)).to_have_value("Naproxen 250 mg twice a day")

    # The phone opens the step again; the laptop changes the answer meanwhile.
    phone.goto(f"{base}/me/intake/4")
    laptop.get_by_label(MEDICINES).fill("Naproxen 500 mg at night")
    laptop.get_by_label(MEDICINES).blur()
    saved(laptop)
    phone.get_by_label(SURGERIES).fill("Knee, 2015")
    phone.get_by_label(SURGERIES).blur()
    notice = phone.locator(".error-summary")
    expect(notice).to_contain_text("This form was changed elsewhere")
    expect(notice).to_be_focused()
    expect(phone.get_by_label(MEDICINES)).to_have_value("Naproxen 500 mg at night")
    expect(phone.locator("#question-surgeries")).to_contain_text("Knee, 2015")  # not lost
    # The form that came back saves as the first one did.
    phone.get_by_label(SURGERIES).fill("Knee, 2015")
    phone.get_by_label(SURGERIES).blur()
    saved(phone)
    stored_answer(user, "surgeries", "Knee, 2015")
    stored_answer(user, "medications", "Naproxen 500 mg at night")


def test_a_failed_save_keeps_the_answers_and_tries_again(open_page, live_server):
    """Found: after a 5xx (a database restart, a proxy's 502) the error page took the save
    status's place, the revision went with it and every later autosave was refused. Here
    the saves get a proxy's 502 or no answer at all for a while: the answers stay, the
    status says so, a button pressed meanwhile keeps the page, and once the server answers
    again the page saves by itself. Then a double click on "Save and continue"."""
    user = make_patient(name="Paul Tremblay")
    base = live_server.url
    page = open_page(**PHONE)
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    sent: list[str] = []
    down = True

    def flaky(route: Route) -> None:
        sent.append(route.request.post_data or "")
        if not down:
            route.continue_()
        elif len(sent) % 2:
            route.fulfill(status=502, content_type="text/html",
                          body="<html><body><h1>502 Bad Gateway</h1></body></html>")
        else:
            route.abort("connectionreset")

    page.route("**/me/intake/4/autosave", flaky)
    page.goto(f"{base}/me/intake/4")
    medicines = page.get_by_label(MEDICINES)
    medicines.fill("Naproxen")
    status = page.locator("#save-status")
    expect(status).to_contain_text("Not saved: the portal cannot be reached right now.")
    check_phone(page, "intake-phone-save-failed")
    expect(status.locator("input[name=revision]")).to_have_value("0")
    expect(page.locator("body")).not_to_contain_text("Bad Gateway")

    medicines.fill("Naproxen 250 mg twice a day")  # typing goes on meanwhile
    tried = len(sent)
    page.get_by_role("button", name="Save and continue").click()
    deadline = time.monotonic() + 10
    while len(sent) == tried:  # the button saves first
        assert time.monotonic() < deadline, "the button did not try to save"
        page.wait_for_timeout(50)
    at_step(page, 4)  # that failed too: the page stays, and so does what was typed
    expect(medicines).to_have_value("Naproxen 250 mg twice a day")
    expect(status).to_contain_text("Not saved")

    down = False  # the server answers again: the next try, by itself, saves
    expect(status).to_contain_text("Saved at", timeout=20_000)
    at_step(page, 4)  # still the same page: the button did not post while saves failed
    assert "Naproxen+250+mg" in sent[-1]
    stored_answer(user, "medications", "Naproxen 250 mg twice a day")

    page.get_by_role("button", name="Save and continue").dblclick()
    at_step(page, 5)
    expect(page.locator("body")).not_to_contain_text("changed elsewhere")


def test_what_was_typed_just_before_signing_out_is_kept(page, live_server):
    """Leaving through the page itself (a link, the language, signing out) saves first: the
    answers sent as the page goes would come after the sign-out, to a session that ended."""
    user = make_patient(name="Lise Gagnon")
    base = live_server.url
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    page.goto(f"{base}/me/intake/4")
    # The page's token stops being valid (its session was renewed elsewhere): the first save
    # is refused, its answer gives a fresh token, and the page saves again with it.
    page.evaluate("""() => {
        document.querySelector("#intake-form input[name=csrf_token]").value = "refused";
        document.body.setAttribute("data-hx-headers", '{"X-CSRFToken": "refused"}');
    }""")
    page.get_by_label(MEDICINES).fill("Ibuprofen")
    page.get_by_label(MEDICINES).blur()
    expect(page.locator("#save-status")).to_contain_text("Saved at")
    stored_answer(user, "medications", "Ibuprofen")

    page.get_by_label(SURGERIES).fill("Shoulder, 2019")
    page.get_by_role("button", name="Sign out", exact=True).click()  # at once
    expect(page).to_have_url(f"{base}/auth/login")
    sign_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/me/")
    page.goto(f"{base}/me/intake/4")
    expect(page.get_by_label(SURGERIES)).to_have_value("Shoulder, 2019")
