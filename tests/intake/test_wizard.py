"""The whole wizard with plain form posts only: no htmx, no JavaScript (SPEC 2.3, 2.5, 2.6)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, ConsentSignature, OutboxMessage, Patient
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import FORM, hidden, page_state, post_step, response_of, submit
from tests.markup import parse


@pytest.fixture
def patient(client, auth):
    user = make_patient(name="Pat Morgan")
    assert auth.login(user).status_code == 303
    return user


def path(response) -> str:
    return urlsplit(response.location).path


def test_from_the_first_step_to_submission(client, patient):
    doctor = make_practitioner()
    patient.patient.practitioner_id = doctor.id
    db.session.commit()

    assert path(client.get("/me/intake/")) == "/me/intake/1"
    for step in range(1, 7):
        page = client.get(f"/me/intake/{step}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert f"Step {step} of 7" in html
        response = post_step(client, step)
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        assert path(response) == f"/me/intake/{step + 1}"
        # Leaving and coming back resumes where the patient is.
        assert path(client.get("/me/intake/")) == f"/me/intake/{step + 1}"

    review = client.get("/me/intake/7").get_data(as_text=True)
    assert "Step 7 of 7" in review and "Some required answers are missing" not in review
    for text in ("Lifting groceries: 3 out of 10", "Shoulder (front), right side: 7 out of 10",
                 "Signed by Pat Morgan"):
        assert text in review

    response = submit(client)
    assert response.status_code == 303 and path(response) == "/me/intake/summary"
    summary = client.get("/me/intake/summary")
    assert summary.status_code == 200
    assert "Sent to your clinic" in summary.get_data(as_text=True)

    stored = response_of(patient)
    assert stored.status == "submitted" and stored.submitted_at is not None
    assert stored.definition_key == "ims_intake" and stored.definition_version == 3
    assert stored.answers["pain_map"] == {"front.shoulder.right": 7, "back.neck.right": 5}
    assert stored.answers["psfs"][1] == {"activity": "Sleeping on my right side", "score": 2}
    assert stored.answers["previous_treatments"] == ["physiotherapy", "massage"]
    assert "referral_other" not in stored.answers  # a follow-up that did not apply
    assert stored.scores == {"nprs_now": 6, "nprs_average": 5, "nprs_worst": 8,
                             "nprs_baseline": 5, "peg": 6.0, "psfs": 3.33, "psfs_items": 3}
    # Born in 1960: over 50, a note for the practitioner, neither a red flag nor a precaution.
    assert stored.flags == [{"code": "age_over_50", "kind": "note", "advice": None}]
    assert stored.has_red_flags is False and stored.precaution_count == 0
    assert db.session.get(Patient, patient.patient.id).status == "intake_submitted"

    signature = db.session.scalar(select(ConsentSignature))
    assert signature.typed_name == "Pat Morgan" and signature.consent_version == 3
    assert len(signature.text_sha256) == 64 and signature.ip == "127.0.0.1"
    mails = list(db.session.scalars(select(OutboxMessage)))
    assert [m.to_addr for m in mails] == [doctor.email]
    assert mails[0].kind == "intake_submitted"
    assert "Pat Morgan" not in mails[0].body_text and "shoulder" not in mails[0].body_text
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "intake.submitted")) == 1

    # Read-only afterwards: a step post changes nothing and goes to the summary.
    again = post_step(client, 1, {**FORM[1], "phone": "250-555-0000"},
                      state={"revision": str(stored.revision), "editor": "x" * 16})
    assert again.status_code == 303 and path(again) == "/me/intake/summary"
    assert response_of(patient).answers["phone"] == "604-555-0123"
    assert path(client.get("/me/intake/3")) == "/me/intake/summary"


def test_required_answers_are_checked_step_by_step(client, patient):
    response = post_step(client, 1, {"dob": "", "sex": "", "phone": "604-555-0123"})
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    summary = doc.find_all(role="alert")[0]
    assert "data-focus-on-load" in summary.attrs
    links = [a.attrs["href"] for a in doc.find_all("a")
             if a.attrs.get("href", "").startswith("#q-")]
    assert "#q-dob" in links and "#q-sex-0" in links
    dob = doc.by_id("q-dob")
    assert dob.attrs.get("aria-invalid") == "true"
    assert "q-dob-error" in dob.attrs.get("aria-describedby", "")
    # What was valid is kept (and shown again).
    assert doc.by_id("q-phone").attrs["value"] == "604-555-0123"
    assert response_of(patient).answers == {"phone": "604-555-0123"}
    assert response_of(patient).current_step == 1


@pytest.mark.parametrize("field,value,message", [
    ("dob", "2999-01-01", "cannot be in the future"),
    ("dob", "1850-01-01", "Enter a date from 1900-01-01"),
    ("dob", "17/05/1960", "Enter a real date"),
    ("dob", "2021-02-30", "Enter a real date"),
    ("phone", "call me", "Enter a phone number"),
    ("sex", "robot", "Choose one of the options"),
])
def test_formats_and_ranges_are_refused_by_the_field(client, patient, field, value, message):
    response = post_step(client, 1, {**FORM[1], field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert field not in response_of(patient).answers


def test_scales_and_body_map_intensities_are_0_to_10(client, patient):
    data = {**FORM[2], "nprs_now": "11", "pain_map-front.knee.left": "-1", "pain_days": "8"}
    response = post_step(client, 2, data)
    assert response.status_code == 422
    assert "Enter a whole number from 0 to 7." in response.get_data(as_text=True)
    answers = response_of(patient).answers
    assert "nprs_now" not in answers and "pain_map" not in answers
    assert "pain_days" not in answers
    assert answers["nprs_average"] == 5


@pytest.mark.parametrize("locale, message", [
    ("en", "You named this activity already. Give each activity once."),
    ("fr_CA", "Vous avez déjà nommé cette activité. Nommez chaque activité une seule fois."),
])
def test_an_activity_named_twice_is_refused_by_its_field(client, auth, locale, message):
    """Two rows of one activity would count it twice in the intake's PSFS mean and once in
    the baseline the follow-ups compare with: the second name is refused where it was typed,
    case and spacing aside, and everything typed comes back."""
    user = make_patient(name="Dana Double", locale=locale)
    assert auth.login(user).status_code == 303
    data = {**FORM[3], "psfs-2-activity": "  lifting   GROCERIES ", "psfs-2-score": "5"}
    response = post_step(client, 3, data)
    assert response.status_code == 422
    doc = parse(response.get_data(as_text=True))
    error = doc.by_id("q-psfs-2-activity-error")
    assert error is not None and message in error.text
    name = doc.by_id("q-psfs-2-activity")
    assert name.attrs["aria-invalid"] == "true"
    assert name.attrs["value"] == "lifting   GROCERIES"  # as typed (trimmed)
    assert doc.by_id("q-psfs-0-activity").attrs["value"] == "Lifting groceries"
    assert "psfs" not in response_of(user).answers
    # A different name goes through.
    assert post_step(client, 3, {**data, "psfs-2-activity": "Gardening"}).status_code == 303
    assert len(response_of(user).answers["psfs"]) == 3


def test_oversized_text_is_refused_with_a_message(client, patient):
    response = post_step(client, 2, {**FORM[2], "main_complaint": "x" * 1001})
    assert response.status_code == 422
    assert "Use at most 1000 characters. This answer has 1001." in response.get_data(as_text=True)
    assert "main_complaint" not in response_of(patient).answers
    # The text is not thrown away: it is in the form again.
    assert "x" * 1001 in response.get_data(as_text=True)


def test_unknown_question_ids_are_ignored(client, patient):
    response = post_step(client, 1, {**FORM[1], "is_admin": "yes", "pain_map-front.nose": "3",
                                     "psfs-9-activity": "Hacking"})
    assert response.status_code == 303
    answers = response_of(patient).answers
    assert set(answers) <= set(FORM[1]) and "is_admin" not in answers


def test_follow_ups_only_when_they_apply(client, patient):
    data = {**FORM[5], "pc_anticoagulant": "yes", "pc_anticoagulant_name": "",
            "pc_anticoagulant_dose": ""}
    response = post_step(client, 5, data)
    assert response.status_code == 422  # which one, and what dose, are then required
    html = response.get_data(as_text=True)
    assert "If yes: which blood thinner?" in html
    data.update(pc_anticoagulant_name="Apixaban", pc_anticoagulant_dose="5 mg twice a day")
    assert post_step(client, 5, data).status_code == 303
    assert response_of(patient).answers["pc_anticoagulant_dose"] == "5 mg twice a day"
    # Answering "no" later drops the follow-ups.
    assert post_step(client, 5, {**data, "pc_anticoagulant": "no"}).status_code == 303
    answers = response_of(patient).answers
    assert "pc_anticoagulant_name" not in answers and "pc_anticoagulant_dose" not in answers


def test_back_and_later_save_without_requiring_answers(client, patient):
    response = post_step(client, 2, {"main_complaint": "Neck"}, action="back")
    assert response.status_code == 303 and path(response) == "/me/intake/1"
    assert response_of(patient).answers == {"main_complaint": "Neck"}
    response = post_step(client, 3, {"psfs-0-activity": "Walking", "psfs-0-score": "4"},
                         action="later")
    assert response.status_code == 303 and path(response) == "/me/"
    assert response_of(patient).current_step == 3
    home = client.get("/me/").get_data(as_text=True)
    assert "In progress: step 3 of 7." in home


def test_a_red_flag_shows_urgent_advice(client, patient):
    data = {**FORM[5], "rf_saddle_numbness": "yes"}
    response = post_step(client, 5, data)
    assert response.status_code == 303
    page = client.get(path(response)).get_data(as_text=True)
    assert "Go to an emergency department now" in page  # at once, on the next page
    again = client.get("/me/intake/5").get_data(as_text=True)
    advice = next(e for e in parse(again).find_all("div") if
              e.attrs.get("data-advice-for") == "rf_saddle_numbness")
    assert "hidden" not in advice.attrs and advice.attrs.get("role") == "alert"
    other = next(e for e in parse(again).find_all("div") if
             e.attrs.get("data-advice-for") == "rf_spinal_surgery")
    assert "hidden" in other.attrs
    assert "Go to an emergency department now" in client.get("/me/intake/7").get_data(as_text=True)


def test_review_lists_missing_answers_with_links_and_refuses_to_send(client, patient):
    post_step(client, 1)
    review = client.get("/me/intake/7").get_data(as_text=True)
    assert "Some required answers are missing" in review
    box = parse(review).find_all("div", aria_labelledby="missing-title")[0]
    links = [a.attrs["href"] for a in box.children[2].children[0:] for a in [a.children[0]]]
    assert "/me/intake/2#q-main-complaint" in links
    assert "/me/intake/2#q-pain-map" in links and "/me/intake/3#q-psfs-0-activity" in links
    assert "/me/intake/6#q-consent-signature-name" in links
    assert not [link for link in links if link.startswith("/me/intake/1#")]
    response = submit(client)
    assert response.status_code == 422
    assert response_of(patient).status == "in_progress"


def test_a_step_that_does_not_exist_is_a_404(client, patient):
    assert client.get("/me/intake/0").status_code == 404
    assert client.get("/me/intake/8").status_code == 404
    assert post_step(client, 7, {}, state={"revision": "0", "editor": "e" * 16}).status_code == 404


def test_the_resume_point_is_shared_across_devices(app, client, patient):
    for step in (1, 2):
        post_step(client, step)
    other = app.test_client()
    from tests.conftest import Auth
    Auth(other).login(patient)
    assert path(other.get("/me/intake/")) == "/me/intake/3"
    page = other.get("/me/intake/1").get_data(as_text=True)
    assert parse(page).by_id("q-phone").attrs["value"] == "604-555-0123"
    assert hidden(page, "revision") == page_state(client, 1)["revision"]


def test_a_consent_signed_elsewhere_counts_on_the_consent_step(client, patient):
    signed = client.post("/me/intake/consent", data={"name": "Pat Morgan", "agree": "y"})
    assert signed.status_code == 303
    page = client.get("/me/intake/6").get_data(as_text=True)
    assert "You signed this consent on" in page
    assert post_step(client, 6, {}).status_code == 303
    assert response_of(patient).answers["consent_signature"]["name"] == "Pat Morgan"
