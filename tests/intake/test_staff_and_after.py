"""After submission: the practitioner's worklist and reading (SPEC 2.7, 5.1, 5.3), marking
reviewed, the patient's read-only copy, corrections as amendments (SPEC 2.6), a new consent
version (SPEC 2.3 step 6) and the intake on the patient's home (SPEC 10)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import services as intake_services
from portal.intake.definitions import load_folder
from portal.models import AuditEvent, IntakeAmendment, IntakeResponse
from tests.conftest import Auth
from tests.factories import make_patient, make_practitioner
from tests.intake.helpers import SAFETY_NO, make_intake, post_step
from tests.markup import parse


def actions(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def doctor(client, auth):
    user = make_practitioner(name="Dr. Lee")
    return user


def test_the_worklist_lists_new_intakes_red_flags_first(client, auth, doctor):
    auth.login(doctor)  # before the clock moves: the TOTP code is computed at real time
    calm = make_patient(name="Calm Carol")
    make_intake(calm)
    clock.advance(minutes=5)
    careful = make_patient(name="Careful Cora")
    make_intake(careful, pc_anticoagulant="yes", pc_anticoagulant_name="Warfarin",
                pc_anticoagulant_dose="5 mg daily")
    clock.advance(minutes=5)
    urgent = make_patient(name="Urgent Uma")
    make_intake(urgent, rf_bladder_bowel="yes")
    doc = parse(client.get("/clinic/").get_data(as_text=True))
    # Red flags lead the worklist, in their own section; the other intakes follow, oldest first.
    flagged, others = doc.by_id("red-flags").text, doc.by_id("new-intakes").text
    assert "Urgent Uma" in flagged and "1 red flag" in flagged
    assert "Urgent Uma" not in others
    assert others.index("Calm Carol") < others.index("Careful Cora")
    assert "1 precaution" in others


def test_a_practitioner_reads_the_intake_and_marks_it_reviewed(client, auth, doctor):
    user = make_patient(name="Fran Flagged")
    make_intake(user, rf_saddle_numbness="yes", pc_anticoagulant="yes",
                pc_anticoagulant_name="Apixaban", pc_anticoagulant_dose="5 mg twice a day")
    auth.login(doctor)
    url = f"/clinic/patients/{user.patient.public_id}/intake"
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    doc = parse(html)
    flag_items = [li for li in doc.find_all("li") if "flag" in li.attrs.get("class", "")]
    assert "flag--red-flag" in flag_items[0].attrs["class"]  # red flags first, highlighted
    assert "Saddle numbness (possible cauda equina)" in flag_items[0].text
    precaution = next(li for li in flag_items if "Takes a blood thinner" in li.text)
    assert "Apixaban" in precaution.text and "5 mg twice a day" in precaution.text
    for text in ("NPRS baseline (average pain, past week)", "6.0", "Consent record",
                 "Name typed", "Fran Flagged", "127.0.0.1"):
        assert text in html
    signature = consents.latest_signature(user.patient)
    assert signature.text_sha256 in html
    assert [e.patient_id for e in actions("intake.viewed")] == [user.patient.id]

    # The fragment is what the chart will embed.
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="staff-intake"')
    assert len(actions("intake.viewed")) == 2

    # With red flags, the review is their acknowledgement: it needs a note (SPEC 5.1).
    for note in ("", "  ok  "):
        refused = client.post(f"{url}/reviewed", data={"note": note})
        assert refused.status_code == 422
        assert "This intake has red flags: write a note" in refused.get_data(as_text=True)
    assert actions("intake.reviewed") == []
    reviewed = client.post(f"{url}/reviewed",
                           data={"note": "Called her: no saddle numbness now; GP seen today."})
    assert reviewed.status_code == 303 and urlsplit(reviewed.location).path == url
    assert [e.patient_id for e in actions("intake.reviewed")] == [user.patient.id]
    page = client.get(url).get_data(as_text=True)
    assert "Reviewed" in page and "Called her: no saddle numbness now; GP seen today." in page
    assert "Fran Flagged" not in client.get("/clinic/").get_data(as_text=True)
    # Once only.
    client.post(f"{url}/reviewed", data={"note": "Second look."})
    assert len(actions("intake.reviewed")) == 1
    db.session.expire_all()
    assert intake_services.submitted_response(user.patient).review_note == \
        "Called her: no saddle numbness now; GP seen today."


def test_staff_see_where_an_unsent_intake_is(client, auth, doctor):
    user = make_patient(name="Slow Sam")
    make_intake(user, submit=False)
    auth.login(doctor)
    html = client.get(f"/clinic/patients/{user.patient.public_id}/intake").get_data(as_text=True)
    assert "It shows here once it is sent" in html and "12 Oak Street" not in html
    other = make_patient()
    html = client.get(f"/clinic/patients/{other.patient.public_id}/intake").get_data(as_text=True)
    assert "has not started" in html
    reviewed = f"/clinic/patients/{user.patient.public_id}/intake/reviewed"
    assert client.post(reviewed).status_code == 404


def test_the_patient_sees_a_read_only_printable_copy(client, auth):
    user = make_patient()
    make_intake(user, rf_fever="yes")
    auth.login(user)
    page = client.get("/me/intake/summary")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Sent to your clinic" in html
    assert "See a doctor today" in html  # the advice stays visible
    assert "data-print" in html and 'media="print"' in html
    doc = parse(html)
    assert not doc.find_all("input", type="text") and not doc.find_all("textarea")
    assert urlsplit(client.get("/me/intake/").location).path == "/me/intake/summary"


def test_a_correction_is_an_amendment_that_keeps_the_original(client, auth, doctor):
    user = make_patient()
    response = make_intake(user)
    original = dict(response.answers)
    response.reviewed_at = clock.now()
    db.session.commit()
    auth.login(user)
    form = client.get("/me/intake/amend/5").get_data(as_text=True)
    state = {"revision": parse(form).find_all("input", name="revision")[0].attrs["value"],
             "editor": parse(form).find_all("input", name="editor")[0].attrs["value"]}
    data = {**state, **SAFETY_NO, "pc_anticoagulant": "yes",
            "pc_anticoagulant_name": "Rivaroxaban", "pc_anticoagulant_dose": "20 mg daily"}
    missing_reason = client.post("/me/intake/amend/5", data=data)
    assert missing_reason.status_code == 422
    assert "why you are changing" in missing_reason.get_data(as_text=True)
    done = client.post("/me/intake/amend/5", data={**data, "reason": "I forgot my pills."})
    assert done.status_code == 303 and urlsplit(done.location).path == "/me/intake/summary"

    db.session.expire_all()
    stored = db.session.get(IntakeResponse, response.id)
    assert stored.answers == original  # the original answers, untouched
    amendment = db.session.scalar(select(IntakeAmendment))
    assert amendment.changes == {"pc_anticoagulant": "yes",
                                 "pc_anticoagulant_name": "Rivaroxaban",
                                 "pc_anticoagulant_dose": "20 mg daily"}
    assert amendment.previous == {"pc_anticoagulant": "no", "pc_anticoagulant_name": None,
                                  "pc_anticoagulant_dose": None}
    assert amendment.reason == "I forgot my pills."
    # The age note (born 1960) stays, judged on the day the intake was sent; it is not
    # counted as a precaution.
    assert [f["code"] for f in amendment.flags] == ["anticoagulant", "age_over_50"]
    assert stored.precaution_count == 1 and stored.reviewed_at is None  # back on the list
    summary = client.get("/me/intake/summary").get_data(as_text=True)
    assert "Corrected on" in summary and "I forgot my pills." in summary
    assert len(actions("intake.amended")) == 1

    # Nothing changed: nothing stored. The consent is never amended.
    client.post("/me/intake/amend/5", data={**data, "reason": "Again"})
    assert db.session.scalar(select(IntakeAmendment)
                             .where(IntakeAmendment.reason == "Again")) is None
    assert client.get("/me/intake/amend/6").status_code == 404

    client.post("/auth/logout")
    Auth(client).login(doctor)
    staff = client.get(f"/clinic/patients/{user.patient.public_id}/intake").get_data(as_text=True)
    assert "Rivaroxaban" in staff and "Corrected by the patient" in staff
    assert "I forgot my pills." in staff


def test_a_new_consent_version_asks_for_a_new_signature(app, client, auth, tmp_path):
    user = make_patient()
    make_intake(user)
    assert consents.has_current_consent(user.patient)

    folder = tmp_path / "q"
    folder.mkdir()
    from portal.intake.definitions import FOLDER
    for path in FOLDER.glob("*.toml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    now = load_folder(FOLDER).consent("ims_consent").version
    text = (FOLDER / f"ims_consent_v{now}.toml").read_text(encoding="utf-8")
    text = text.replace(f"\nversion = {now}\n", f"\nversion = {now + 1}\n", 1).replace(
        "Serious problems are very rare.", "Serious problems are very rare (about 1 in 2,500).")
    (folder / f"ims_consent_v{now + 1}.toml").write_text(text, encoding="utf-8")
    app.extensions["intake_definitions"] = load_folder(folder)

    assert not consents.has_current_consent(user.patient)
    auth.login(user)
    home = client.get("/me/").get_data(as_text=True)
    assert "Sign the updated consent" in home
    page = client.get("/me/intake/consent").get_data(as_text=True)
    assert "about 1 in 2,500" in page
    assert client.post("/me/intake/consent", data={"name": "", "agree": ""}).status_code == 422
    signed = client.post("/me/intake/consent", data={"name": user.name, "agree": "y"})
    assert signed.status_code == 303
    assert consents.has_current_consent(user.patient)
    rows = consents.signatures(user.patient)
    assert [r.consent_version for r in rows] == [now + 1, now]
    assert rows[0].text_sha256 != rows[1].text_sha256
    assert "Sign the updated consent" not in client.get("/me/").get_data(as_text=True)


def test_an_unsent_intake_needs_the_new_consent_signed_before_sending(app, client, auth, tmp_path):
    user = make_patient()
    auth.login(user)
    for step in range(1, 7):
        post_step(client, step)
    folder = tmp_path / "q"
    folder.mkdir()
    from portal.intake.definitions import FOLDER
    for path in FOLDER.glob("*.toml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    now = load_folder(FOLDER).consent("ims_consent").version
    text = (FOLDER / f"ims_consent_v{now}.toml").read_text(encoding="utf-8").replace(
        f"\nversion = {now}\n", f"\nversion = {now + 1}\n", 1)
    (folder / f"ims_consent_v{now + 1}.toml").write_text(text, encoding="utf-8")
    app.extensions["intake_definitions"] = load_folder(folder)
    review = client.get("/me/intake/7").get_data(as_text=True)
    assert "/me/intake/6#q-consent-signature-name" in review
    assert post_step(client, 6).status_code == 303
    review = client.get("/me/intake/7").get_data(as_text=True)
    assert "Some required answers are missing" not in review


def test_the_intake_is_the_first_thing_to_do_at_home(client, auth):
    user = make_patient()
    auth.login(user)

    def first_todo() -> str:
        doc = parse(client.get("/me/").get_data(as_text=True))
        return next(li for li in doc.find_all("li") if li.attrs.get("class") == "todo").text

    assert "Not started" in first_todo()
    post_step(client, 1)
    post_step(client, 2)
    assert "In progress: step 3 of 7." in first_todo()
    for step in range(3, 7):
        post_step(client, step)
    html = client.get("/me/intake/7").get_data(as_text=True)
    revision = parse(html).find_all("input", name="revision")[0].attrs["value"]
    client.post("/me/intake/submit", data={"revision": revision})
    assert "Your intake questionnaire is sent" in first_todo()
