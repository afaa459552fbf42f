"""The practitioner's worklist (SPEC 5.1): each section lists exactly the right patients, red
flags first; "my patients / all"; the self-refresh's section addresses (204 when nothing
changed); a constant number of SQL statements whatever the number of patients (SPEC 8.5)."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from flask import current_app
from sqlalchemy import func, or_, select, true, update

from portal import clock, crypto
from portal.auth import services as auth_services
from portal.clinic.worklist import services as worklist
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import services as intake_services
from portal.models import (
    AccountToken,
    ConsentSignature,
    Document,
    FollowUp,
    IntakeResponse,
    Patient,
    RecordRequest,
    SafetyReport,
    SessionRating,
    TreatmentOutcome,
    TreatmentSession,
    User,
)
from portal.rights import correcting
from portal.treatment import services as treatment_services
from tests.conftest import CSRFClient
from tests.factories import (
    PASSWORD,
    make_admin,
    make_document,
    make_follow_up,
    make_patient,
    make_practitioner,
)
from tests.intake.helpers import make_intake
from tests.markup import parse
from tests.queries import queries_for
from tests.treatment.helpers import REGION, history, make_treatable, rate, record

HX = {"HX-Request": "true"}
SECTIONS = list(worklist.SECTIONS)


@pytest.fixture
def app_config(app_config):
    # The fixtures move the clock a day (ratings become overdue): sign-ins outlast that;
    # the idle timeout test sets its own.
    app_config.update(IDLE_TIMEOUT_STAFF=timedelta(days=30), SESSION_LIFETIME=timedelta(days=30),
                      PERMANENT_SESSION_LIFETIME=timedelta(days=30))
    return app_config


def sign_in(client: CSRFClient, user: User, login_url: str = "/auth/login"):
    """Signs in with a code for the portal's clock (the fixtures move it)."""
    response = client.post(login_url, data={"email": user.email, "password": PASSWORD})
    if getattr(user, "totp_secret_plain", None):
        code = pyotp.TOTP(user.totp_secret_plain).at(clock.now())
        response = client.post("/auth/mfa", data={"code": code})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return response


def signed_in(app, user) -> CSRFClient:
    app.test_client_class = CSRFClient
    client = app.test_client()
    sign_in(client, user)
    return client


def assign(user: User, practitioner: User | None) -> User:
    db.session.execute(update(Patient).where(Patient.user_id == user.id)
                       .values(practitioner_id=practitioner.id if practitioner else None))
    db.session.commit()
    return user


def review_intake(user: User, reviewer: User) -> None:
    response = db.session.scalar(select(IntakeResponse)
                                 .where(IntakeResponse.patient_id == user.patient.id))
    assert intake_services.mark_reviewed(response, reviewer)


def invite(inviter: User, name: str) -> User:
    email = name.split()[0].lower() + "@example.org"
    with current_app.test_request_context():
        return auth_services.invite(inviter, email, name, "patient")


@pytest.fixture
def doctor(app):
    return make_practitioner(name="Dr. Mine")


@pytest.fixture
def colleague(app):
    return make_practitioner(name="Dr. Other")


@pytest.fixture
def clinic(app, doctor, colleague):
    """One patient in each state, assigned to ``doctor`` unless said otherwise, and two who
    must appear nowhere (an intake already reviewed, a clearance already accepted)."""
    def mine(user):
        return assign(user, doctor)

    # Treatment first: their intakes were read long ago.
    worse = mine(make_treatable(name="Wendy Worse", baseline=4))
    history(worse, [4, 6], practitioner=doctor)
    better = mine(make_treatable(name="Ivan Improved", baseline=8))
    history(better, [6, 4], practitioner=doctor)
    late = mine(make_treatable(name="Olga Overdue"))
    record(late, doctor, hours_ago=26)
    safety = mine(make_treatable(name="Sam Safety"))
    clock.advance(hours=25)  # Olga's rating is now past its reminder time
    rate(record(safety, doctor, hours_ago=27), 5, breathing=True)
    for user in (worse, better, late, safety):
        review_intake(user, doctor)

    flagged = mine(make_patient(name="Rita Redflag"))
    make_intake(flagged, rf_bladder_bowel="yes")
    plain = mine(make_patient(name="Nina Newintake"))
    make_intake(plain)
    reviewed = mine(make_patient(name="Rene Reviewed"))
    make_intake(reviewed)
    review_intake(reviewed, doctor)
    waiting = mine(make_patient(name="Clara Clearance"))
    make_document(waiting)
    make_document(waiting, name="page 2.pdf")
    accepted = mine(make_patient(name="Andy Accepted"))
    make_document(accepted, status="accepted")
    invited = invite(doctor, "Ivy Invited")
    joined = invite(doctor, "Jo Joined")
    assign(joined, doctor)
    row = db.session.scalar(select(AccountToken).where(AccountToken.user_id == joined.id))
    auth_services.accept_invitation(row, "a long enough password 123")

    # Not the doctor's: a colleague's red flag and invitation; a patient of no one.
    theirs = assign(make_patient(name="Theo Theirs"), colleague)
    make_intake(theirs, rf_fever="yes")
    their_invite = invite(colleague, "Tina Theirinvite")
    nobody = assign(make_patient(name="Una Unassigned"), None)
    make_intake(nobody)

    # Follow-ups after discharge (SPEC 12.1), each answered on its due date: answered 3 days
    # ago (listed), 20 days ago (no longer); sent and due 15 days ago (overdue), 5 days ago
    # (not yet), 30 days ago (its link expired: no longer); a colleague's, answered yesterday.
    now = clock.now()
    for name, status, days in (("Fay Followup", "answered", 3), ("Olive Oldanswer", "answered", 20),
                               ("Owen Overdue", "sent", 15), ("Sid Sent", "sent", 5),
                               ("Ezra Expired", "sent", 30)):
        make_follow_up(mine(make_patient(name=name)).patient, status=status,
                       discharged_at=now - timedelta(weeks=6, days=days))
    make_follow_up(assign(make_patient(name="Tess Theirfollowup"), colleague).patient,
                   discharged_at=now - timedelta(weeks=6, days=1), pain_average=6)
    # Consent withdrawn (SPEC 11.1), not yet acknowledged: mine first, then a colleague's.
    for name, owner in (("Wes Withdrawn", doctor), ("Tom Theirwithdrawal", colleague)):
        user = assign(make_treatable(name=name), owner)
        review_intake(user, doctor)
        patient = db.session.get(Patient, user.patient.id)
        assert consents.withdraw(patient, consents.signature(patient,
                                                             consents.current_consent()), None)
        clock.advance(minutes=1)
    # Correction requests (SPEC 11.1), not yet answered: a colleague's patient's, received
    # first (due first), then mine; one answered, listed nowhere.
    for name, owner in (("Tara Theircorrection", colleague), ("Cora Correction", doctor),
                        ("Abe Answered", doctor)):
        user = assign(make_patient(name=name), owner)
        req = correcting.request_correction(user.patient, user, None, "Wrong doctor")
        if name == "Abe Answered":
            correcting.decline(req, doctor, "It is right.")
        clock.advance(minutes=1)
    return {"worse": worse, "better": better, "late": late, "safety": safety,
            "flagged": flagged, "plain": plain, "reviewed": reviewed, "waiting": waiting,
            "accepted": accepted, "invited": invited, "joined": joined, "theirs": theirs,
            "their_invite": their_invite, "nobody": nobody}


def within(element, tag: str) -> list:
    """The ``tag`` elements inside ``element``, in document order."""
    found = []
    for child in element.children:
        if child.tag == tag:
            found.append(child)
        found.extend(within(child, tag))
    return found


def names_in(section) -> list[str]:
    return [h3.text.strip() for h3 in within(section, "h3")]


def sections_of(html: str) -> dict[str, list[str]]:
    doc = parse(html)
    found = {}
    for key in SECTIONS:
        section = doc.by_id(key)
        assert section is not None, key
        found[key] = names_in(section)
    return found


MINE = {
    # Red flags are the whole clinic's, whatever "my patients" shows (SPEC 5.1).
    "red-flags": ["Sam Safety", "Rita Redflag", "Theo Theirs"],
    "consent-withdrawn": ["Wes Withdrawn"],
    "new-intakes": ["Nina Newintake", "Una Unassigned"],
    "clearances-to-review": ["Clara Clearance"],
    "correction-requests": ["Cora Correction"],
    "worsening": ["Wendy Worse"],
    "ratings-overdue": ["Olga Overdue"],
    "improved": ["Ivan Improved"],
    "follow-ups-answered": ["Fay Followup"],
    "follow-ups-overdue": ["Owen Overdue"],
    "invitations": ["Ivy Invited"],
}


def test_each_section_lists_exactly_the_right_patients(app, clinic, doctor):
    client = signed_in(app, doctor)
    html = client.get("/clinic/?who=mine").get_data(as_text=True)
    assert sections_of(html) == MINE
    for gone in ("Rene Reviewed", "Andy Accepted", "Jo Joined", "Tina Theirinvite",
                 "Olive Oldanswer", "Sid Sent", "Ezra Expired", "Tess Theirfollowup"):
        assert gone not in html, gone

    everyone = sections_of(client.get("/clinic/?who=all").get_data(as_text=True))
    assert everyone["red-flags"] == ["Sam Safety", "Rita Redflag", "Theo Theirs"]
    assert everyone["invitations"] == ["Tina Theirinvite", "Ivy Invited"]  # newest first
    assert everyone["consent-withdrawn"] == ["Wes Withdrawn", "Tom Theirwithdrawal"]
    assert everyone["correction-requests"] == ["Tara Theircorrection", "Cora Correction"]
    assert "Abe Answered" not in html
    # Newest answer first; what each says: kept (3 from 7), not kept (6 from 7).
    assert everyone["follow-ups-answered"] == ["Tess Theirfollowup", "Fay Followup"]
    assert everyone["follow-ups-overdue"] == ["Owen Overdue"]
    doc = parse(client.get("/clinic/?who=all").get_data(as_text=True))
    answered = doc.by_id("follow-ups-answered").text
    assert "Improvement kept" in answered and "Improvement not kept" in answered
    assert "Average pain 3/10, baseline 7/10" in answered
    for key in ("new-intakes", "clearances-to-review", "worsening", "ratings-overdue",
                "improved"):
        assert everyone[key] == MINE[key], key


def test_a_responder_worse_than_last_time_is_in_both_lists(app, clinic, doctor):
    """8 -> 2 -> 4: a responder (50% below the baseline) with the worsening alert (2 points up
    on the last rating): listed under improved and under worsening (CLINICAL.md)."""
    both = assign(make_treatable(name="Rosa Rebound", baseline=8), doctor)
    history(both, [2, 4], practitioner=doctor)
    review_intake(both, doctor)
    found = sections_of(signed_in(app, doctor).get("/clinic/?who=mine").get_data(as_text=True))
    assert "Rosa Rebound" in found["improved"] and "Rosa Rebound" in found["worsening"]
    assert worklist.build(worklist.Scope("mine", doctor.id), ("worsening", "improved"))[
        "worsening"].count == 2


def test_red_flags_come_first_and_counts_are_in_the_headings(app, clinic, doctor):
    doc = parse(signed_in(app, doctor).get("/clinic/?who=mine").get_data(as_text=True))
    headings = [h2.text.split() for h2 in doc.find_all("h2")]
    titles = [" ".join(words[:-1]) for words in headings]
    assert titles[:11] == ["Red flags", "Consent withdrawn", "New intakes to review",
                           "Clearances to review", "Correction requests",
                          "Patients worsening", "Ratings overdue",
                          "Meaningful improvement reached", "Follow-ups answered",
                          "Follow-ups overdue", "Invitations not yet accepted"]
    assert [int(words[-1]) for words in headings[:11]] == [3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    red = doc.by_id("red-flags")
    assert "card--danger" in red.attrs["class"]
    assert "Safety check after needling" in red.text and "Chest pain" in red.text
    assert "1 red flag" in red.text
    # Every section says itself in the live region's words when it changes.
    assert red.attrs["data-news"] == "Red flags: 3"


def test_each_line_opens_the_right_tab_of_the_chart(app, clinic, doctor):
    doc = parse(signed_in(app, doctor).get("/clinic/?who=mine").get_data(as_text=True))

    def links(key):
        return [a.attrs["href"] for a in within(doc.by_id(key), "a")]

    def pid(name):
        return clinic[name].patient.public_id

    assert links("red-flags") == [f"/clinic/patients/{pid('safety')}/sessions#safety-reports",
                                  f"/clinic/patients/{pid('flagged')}/intake",
                                  f"/clinic/patients/{pid('theirs')}/intake"]
    assert links("new-intakes")[0] == f"/clinic/patients/{pid('plain')}/intake"
    assert links("clearances-to-review") == [f"/clinic/patients/{pid('waiting')}/documents"]
    assert links("worsening") == [f"/clinic/patients/{pid('worse')}/sessions"]
    assert links("ratings-overdue") == [f"/clinic/patients/{pid('late')}/sessions"]
    assert links("improved") == [f"/clinic/patients/{pid('better')}/sessions"]
    resend = within(doc.by_id("invitations"), "form")
    assert [f.attrs["action"] for f in resend] == [
        f"/clinic/invitations/{clinic['invited'].public_id}/resend"]
    assert [i.attrs["value"] for i in within(resend[0], "input") if i.attrs["name"] == "who"] \
        == ["mine"]
    assert "2 files" in doc.by_id("clearances-to-review").text
    assert "Unassigned" in doc.by_id("new-intakes").text  # Una belongs to no one


def test_empty_states(app, doctor):
    html = signed_in(app, doctor).get("/clinic/").get_data(as_text=True)
    for text in ("No red flags waiting.", "No new intakes to review.",
                 "No clearances are waiting for review.", "No patient is worsening.",
                 "No rating is overdue.", "No patient has reached a meaningful improvement yet.",
                 "Every invited patient has joined."):
        assert text in html, text
    assert sections_of(html) == {key: [] for key in SECTIONS}


# --- my patients / all ---------------------------------------------------------------------

def who_links(html: str) -> dict[str, str | None]:
    nav = next(n for n in parse(html).find_all("nav")
               if n.attrs.get("aria-label") == "Whose patients")
    return {a.text.strip(): a.attrs.get("aria-current") for a in within(nav, "a")}


def test_default_is_mine_for_someone_with_patients_else_all(app, clinic, doctor):
    html = signed_in(app, doctor).get("/clinic/").get_data(as_text=True)
    assert who_links(html) == {"My patients": "true", "All patients": None}
    # Only under red flags, the whole clinic's.
    assert [key for key, names in sections_of(html).items() if "Theo Theirs" in names] == \
        ["red-flags"]

    newcomer = make_practitioner(name="Dr. New")
    html = signed_in(app, newcomer).get("/clinic/").get_data(as_text=True)
    assert who_links(html) == {"My patients": None, "All patients": "true"}
    assert "Theo Theirs" in html
    # An admin is a practitioner too: the same rule.
    admin_html = signed_in(app, make_admin()).get("/clinic/").get_data(as_text=True)
    assert who_links(admin_html)["All patients"] == "true"


def test_the_choice_is_in_the_address_and_carried_everywhere(app, clinic, doctor):
    client = signed_in(app, doctor)
    html = client.get("/clinic/?who=all").get_data(as_text=True)
    doc = parse(html)
    assert who_links(html) == {"My patients": None, "All patients": "true"}
    for key in SECTIONS:
        assert "who=all" in doc.by_id(key).attrs["data-hx-get"], key
    form = next(f for f in doc.find_all("form") if f.attrs.get("data-hx-post"))
    hidden = {"name": "who", "type": "hidden", "value": "all"}
    assert hidden in [i.attrs for i in within(form, "input")]
    # Something not a choice: the default.
    assert who_links(client.get("/clinic/?who=nonsense").get_data(as_text=True)) == \
        {"My patients": "true", "All patients": None}
    # Everyone's view names whose patient each one is.
    assert "Practitioner: Dr. Other" in doc.by_id("red-flags").text


def test_the_colleague_sees_their_own(app, clinic, colleague):
    found = sections_of(signed_in(app, colleague).get("/clinic/").get_data(as_text=True))
    assert found["red-flags"] == ["Sam Safety", "Rita Redflag", "Theo Theirs"]
    assert found["new-intakes"] == ["Una Unassigned"]  # no one's: everyone's
    assert found["invitations"] == ["Tina Theirinvite"]
    assert found["worsening"] == found["improved"] == found["ratings-overdue"] == []


def test_an_invitation_moves_with_its_patient(app, clinic, doctor, colleague):
    assign(clinic["invited"], colleague)
    assert sections_of(signed_in(app, doctor).get("/clinic/").get_data(as_text=True))[
        "invitations"] == []
    assert sections_of(signed_in(app, colleague).get("/clinic/").get_data(as_text=True))[
        "invitations"] == ["Tina Theirinvite", "Ivy Invited"]


# --- "and N more" ----------------------------------------------------------------------------

def test_long_lists_are_cut_with_and_n_more(app, doctor):
    app.config["WORKLIST_LIST_SIZE"] = 2
    for i in range(5):
        make_intake(assign(make_patient(name=f"Flag {i}"), doctor), rf_fever="yes")
        make_intake(assign(make_patient(name=f"Plain {i}"), doctor))
        invite(doctor, f"Invitee{i} Person")
    client = signed_in(app, doctor)
    doc = parse(client.get("/clinic/").get_data(as_text=True))
    red, new, invitations = (doc.by_id(k) for k in ("red-flags", "new-intakes", "invitations"))
    assert names_in(red) == ["Flag 0", "Flag 1"] and "and 3 more" in red.text
    assert within(red, "a")[-1].attrs["href"].endswith("/intake")  # no list to send to
    assert names_in(new) == ["Plain 0", "Plain 1"] and "and 3 more" in new.text
    more = within(new, "a")[-1]
    assert more.text.strip() == "Patients whose intake is submitted"
    query = parse_qs(urlsplit(more.attrs["href"]).query)
    assert urlsplit(more.attrs["href"]).path == "/clinic/patients/"
    assert query == {"status": ["intake_submitted"], "practitioner": [doctor.public_id]}
    assert client.get(more.attrs["href"]).status_code == 200
    assert "and 3 more" in invitations.text
    everyone = parse(client.get("/clinic/?who=all").get_data(as_text=True))
    href = within(everyone.by_id("invitations"), "a")[-1].attrs["href"]
    assert parse_qs(urlsplit(href).query) == {"status": ["invited"]}


# --- the self-refresh's section addresses ---------------------------------------------------

def section_url(html: str, key: str) -> str:
    return parse(html).by_id(key).attrs["data-hx-get"].replace("&amp;", "&")


def test_a_section_answers_204_until_it_changes(app, clinic, doctor):
    client = signed_in(app, doctor)
    page = client.get("/clinic/?who=mine").get_data(as_text=True)
    section = parse(page).by_id("new-intakes")
    assert section.attrs["data-hx-trigger"] == "every 45s, worklist-refresh"
    assert section.attrs["data-hx-swap"] == "outerHTML"
    urls = {key: section_url(page, key) for key in SECTIONS}
    for key, url in urls.items():
        assert urlsplit(url).path == f"/clinic/worklist/{key}"
        response = client.get(url, headers=HX)
        assert response.status_code == 204 and response.get_data() == b"", key

    make_intake(assign(make_patient(name="Newton Newer"), doctor))
    changed = client.get(urls["new-intakes"], headers=HX)
    assert changed.status_code == 200
    body = changed.get_data(as_text=True)
    assert "<html" not in body
    assert body.lstrip().startswith('<section class="card worklist-section"')
    fresh = parse(body).by_id("new-intakes")
    assert names_in(fresh) == ["Nina Newintake", "Una Unassigned", "Newton Newer"]
    assert fresh.attrs["data-hx-get"] != parse(page).by_id("new-intakes").attrs["data-hx-get"]
    # The others did not change.
    for key in SECTIONS:
        if key != "new-intakes":
            assert client.get(urls[key], headers=HX).status_code == 204, key
    # The new version is unchanged until the next change.
    assert client.get(section_url(body, "new-intakes"), headers=HX).status_code == 204
    # Something shown changes (not only who is listed): the version moves.
    review_intake(clinic["plain"], doctor)
    assert client.get(section_url(body, "new-intakes"), headers=HX).status_code == 200


def test_a_change_in_what_a_line_shows_is_a_change(app, clinic, doctor):
    client = signed_in(app, doctor)
    url = section_url(client.get("/clinic/").get_data(as_text=True), "invitations")
    clock.advance(days=8)  # the invitation link expires: the line says so
    response = client.get(url, headers=HX)
    assert response.status_code == 200 and "Link expired" in response.get_data(as_text=True)


def test_the_invitation_panel_after_an_invitation_shows_the_new_one(app, clinic, doctor):
    client = signed_in(app, doctor)
    client.get("/clinic/?who=mine")
    response = client.post("/clinic/invitations", headers=HX,
                           data={"name": "Pia Posted", "email": "pia@example.org", "who": "mine"})
    assert response.status_code == 200
    doc = parse(response.get_data(as_text=True))
    assert names_in(doc.by_id("invitations")) == ["Pia Posted", "Ivy Invited"]
    assert "who=mine" in doc.by_id("invitations").attrs["data-hx-get"]
    # Sending one again comes back to the same choice.
    resent = client.post(f"/clinic/invitations/{clinic['invited'].public_id}/resend",
                         data={"who": "all"})
    assert resent.status_code == 303 and resent.location.endswith("/clinic/?who=all")


def test_unknown_section_and_wrong_people_get_404(app, client, clinic, doctor):
    staff = signed_in(app, doctor)
    assert staff.get("/clinic/worklist/everything", headers=HX).status_code == 404
    assert staff.get("/clinic/worklist/everything").status_code == 404
    patient = signed_in(app, clinic["plain"])
    for url in ("/clinic/worklist/red-flags", "/clinic/?who=all"):
        assert patient.get(url, headers=HX).status_code == 404
        assert patient.get(url).status_code == 404


def test_a_browser_opening_a_section_goes_to_the_worklist(app, clinic, doctor):
    client = signed_in(app, doctor)
    response = client.get("/clinic/worklist/improved?who=all&v=x")
    assert response.status_code == 303
    assert response.location.endswith("/clinic/?who=all#improved")


def test_signed_out_refresh_goes_to_sign_in_once_and_comes_back_to_the_worklist(
        app, clinic, doctor):
    app.config["IDLE_TIMEOUT_STAFF"] = timedelta(minutes=30)
    client = signed_in(app, doctor)
    page = client.get("/clinic/").get_data(as_text=True)
    url = section_url(page, "red-flags")
    clock.advance(minutes=20)
    assert client.get(url, headers=HX).status_code == 204
    # The refresh is not activity: 35 minutes after the last thing done, the session is over.
    clock.advance(minutes=15)
    response = client.get(url, headers=HX)
    assert response.status_code == 200 and response.get_data() == b""
    login = urlsplit(response.headers["HX-Redirect"])
    assert login.path == "/auth/login"
    back = parse_qs(login.query)["next"][0]
    # The sign-in page does not refresh itself: nothing more is asked until someone signs in.
    page = client.get(response.headers["HX-Redirect"]).get_data(as_text=True)
    assert "data-hx-trigger" not in page
    # After signing in, that address leads to the worklist page, not to a bare section.
    assert sign_in(client, doctor, response.headers["HX-Redirect"]).location == back
    landing = client.get(back)
    assert landing.status_code == 303 and urlsplit(landing.location).path == "/clinic/"


def test_real_activity_keeps_the_session(app, clinic, doctor):
    app.config["IDLE_TIMEOUT_STAFF"] = timedelta(minutes=30)
    client = signed_in(app, doctor)
    url = section_url(client.get("/clinic/").get_data(as_text=True), "red-flags")
    clock.advance(minutes=20)
    assert client.get("/clinic/").status_code == 200
    clock.advance(minutes=15)
    assert client.get(url, headers=HX).status_code == 204


def test_refresh_interval_comes_from_the_configuration(app, doctor):
    app.config["WORKLIST_REFRESH_SECONDS"] = 2
    doc = parse(signed_in(app, doctor).get("/clinic/").get_data(as_text=True))
    triggers = {doc.by_id(k).attrs["data-hx-trigger"] for k in SECTIONS}
    assert triggers == {"every 2s, worklist-refresh"}
    # The invitation form is not part of any refreshing section.
    form = next(f for f in doc.find_all("form") if f.attrs.get("data-hx-post"))
    assert "data-hx-trigger" not in form.attrs


def test_the_page_loads_its_script_and_nothing_inline(app, clinic, doctor):
    doc = parse(signed_in(app, doctor).get("/clinic/").get_data(as_text=True))
    scripts = [s.attrs.get("src") for s in doc.find_all("script")]
    # Under its content-hashed name (SPEC 8.5).
    assert any(re.fullmatch(r"/static/js/worklist-[0-9a-f]{32}\.js", s or "") for s in scripts)
    assert all(s.attrs.get("src") and not s.text.strip() for s in doc.find_all("script"))
    assert not [e for e in doc.elements if "style" in e.attrs]
    ids = [e.attrs["id"] for e in doc.elements if e.attrs.get("id")]
    assert len(ids) == len(set(ids)), "ids used twice"


# --- SQL statements (SPEC 8.5) ---------------------------------------------------------------

def _bulk(n: int, doctor: User, colleague: User, start: int = 0) -> None:
    """``n`` patients spread over every section (half the doctor's), straight into the
    database."""
    now = clock.now()
    for i in range(start, start + n):
        state = i % 8
        user = User(email=f"bulk{i}@example.org", name=f"Bulk {i}", role="patient",
                    created_at=now, password_hash=None if state == 7 else "x",
                    invited_by_id=doctor.id)
        patient = Patient(user=user, practitioner_id=(doctor, colleague)[i % 2].id,
                          status={3: "in_treatment", 4: "in_treatment", 7: "invited"}.get(
                              state, "intake_submitted"),
                          created_at=now)
        db.session.add_all([user, patient])
        if state in (1, 2):  # consent withdrawn, not yet acknowledged (SPEC 11.1)
            db.session.add(_withdrawn(patient, now - timedelta(minutes=i)))
        if state in (2, 5):  # a correction request not yet answered (SPEC 11.1)
            received = now - timedelta(minutes=i)
            db.session.add(RecordRequest(patient=patient, kind="correction",
                                         channel="portal", received_at=received,
                                         due_at=received + timedelta(days=30)))
        if state in (0, 1):
            db.session.add(IntakeResponse(
                patient=patient, definition_key="ims_intake", definition_version=1,
                status="submitted", answers={}, created_at=now, updated_at=now,
                submitted_at=now - timedelta(minutes=i), has_red_flags=state == 0,
                red_flag_count=1 if state == 0 else 0))
        elif state == 2:
            db.session.add(Document(
                patient=patient, kind="clearance", status="pending", original_name="c.pdf",
                content_type="application/pdf", original_type="application/pdf", size=10,
                sha256=f"{i:064d}", blob_key=f"bulk-{i}", created_at=now))
        elif state in (3, 4):
            db.session.add(TreatmentOutcome(patient=patient,
                                            status=("worse", "improved")[state - 3],
                                            worsening=state == 3, baseline=5,
                                            latest_nprs=(8, 2)[state - 3],
                                            rated_count=2, updated_at=now))
        elif state in (5, 6):
            # A follow-up after discharge answered lately (5) or overdue (6): SPEC 12.1.
            # Answered within the last two weeks, or due 15 days ago and more.
            back = timedelta(hours=i % 300)
            db.session.add(_follow_up(patient, now - back if state == 5
                                      else now - timedelta(days=15) - back, state == 5))
            opened = now - timedelta(hours=30)
            session = TreatmentSession(patient=patient, recorded_by_id=doctor.id,
                                       treated_at=opened, regions=[REGION], status="recorded",
                                       corrections=[], created_at=opened, updated_at=opened,
                                       rating_opens_at=opened)
            db.session.add(session)
            if state == 6:
                db.session.add(SessionRating(
                    session=session, patient=patient, pain_now=5, pain_average=5, pgic=0,
                    soreness=2,
                    soreness_duration="under_day", created_at=now, updated_at=now))
                db.session.add(SafetyReport(patient=patient, session=session, kind="check",
                                            symptoms=["chest_pain"], alert=True,
                                            created_at=now))
        else:
            db.session.add(AccountToken(user=user, purpose="invite",
                                        token_hash=crypto.token_hash(f"bulk-{i}"),
                                        created_at=now, expires_at=now + timedelta(days=7),
                                        created_by_id=doctor.id))
    db.session.commit()


def _withdrawn(patient: Patient, at) -> ConsentSignature:
    """A consent signed a year before ``at`` and withdrawn at ``at``, not yet acknowledged."""
    return ConsentSignature(patient=patient, consent_key="ims_consent", consent_version=1,
                            text_sha256="0" * 64, locale="en", typed_name="x",
                            signed_at=at - timedelta(days=365), withdrawn_at=at)


def _follow_up(patient: Patient, due, answered: bool) -> FollowUp:
    """A follow-up after discharge due at ``due``: answered then, or sent and unanswered."""
    return FollowUp(patient=patient, discharged_at=due - timedelta(weeks=6), weeks=6,
                    due_at=due, status="answered" if answered else "sent", sent_at=due,
                    answered_at=due if answered else None, baseline=7,
                    improved_at_discharge=True, pain_average=3 if answered else None,
                    kept=True if answered else None, created_at=due,
                    token_expires_at=due + timedelta(days=28))


def test_the_number_of_statements_does_not_grow_with_patients(app, doctor, colleague):
    client = signed_in(app, doctor)
    _bulk(16, doctor, colleague)
    urls = ["/clinic/?who=mine", "/clinic/?who=all", "/clinic/"]
    sections = [f"/clinic/worklist/{key}?who=mine" for key in SECTIONS]
    for url in urls + sections:
        queries_for(db, client, url, headers=HX)  # warm up
    small = {url: queries_for(db, client, url) for url in urls}
    small.update({url: queries_for(db, client, url, headers=HX) for url in sections})
    # One statement a section at most (the correction requests' is the 16th).
    assert max(small.values()) <= 16, small

    _bulk(1000, doctor, colleague, start=16)
    large = {url: queries_for(db, client, url) for url in urls}
    large.update({url: queries_for(db, client, url, headers=HX) for url in sections})
    assert large == small
    # Every section is full and cut, so the comparison covers every statement.
    doc = parse(client.get("/clinic/?who=all").get_data(as_text=True))
    for key in SECTIONS:
        assert re.search(r"and \d+ more", doc.by_id(key).text), key


def _interleaved(n: int, doctor: User, colleague: User) -> None:
    """``n`` patients in treatment and ``n // 2`` invited, of the doctor, the colleague and
    no one in turn, with safety answers, intakes (with and without red flags), overdue
    ratings, clearances waiting, outcomes and invitations whose times interleave across the
    three, so that every list takes lines from each."""
    now = clock.now()
    owners = (doctor.id, colleague.id, None)

    def ago(i: int, step: int, span: int) -> timedelta:
        return timedelta(minutes=(i * step) % span)  # not in creation order, with ties

    for i in range(n):
        user = User(email=f"mix{i}@example.org", name=f"Mix {i}", role="patient",
                    created_at=now, password_hash="x", invited_by_id=doctor.id)
        patient = Patient(user=user, practitioner_id=owners[i % 3], status="in_treatment",
                          created_at=now)
        db.session.add_all([user, patient])
        if i % 4 in (0, 1):
            db.session.add(IntakeResponse(
                patient=patient, definition_key="ims_intake", definition_version=1,
                status="submitted", answers={}, created_at=now, updated_at=now,
                submitted_at=now - ago(i, 7, 40), has_red_flags=i % 4 == 0,
                red_flag_count=1 if i % 4 == 0 else 0))
        opened = now - timedelta(hours=30) - ago(i, 7, 40)
        session = TreatmentSession(patient=patient, recorded_by_id=doctor.id,
                                   treated_at=opened, regions=[REGION], status="recorded",
                                   corrections=[], created_at=opened, updated_at=opened,
                                   rating_opens_at=opened)
        db.session.add(session)
        if i % 2:  # the others stay unrated: overdue
            db.session.add(SessionRating(
                session=session, patient=patient, pain_now=5, pain_average=5, pgic=0,
                soreness=2,
                soreness_duration="under_day", created_at=now, updated_at=now - ago(i, 7, 40)))
            if i % 4 == 3:
                db.session.add(SafetyReport(patient=patient, session=session, kind="check",
                                            symptoms=["chest_pain"], alert=True,
                                            created_at=now - ago(i, 7, 40)))
        # Responders with the worsening alert too (the fourth kind): in both lists.
        status, worsening = (("worse", True), ("improved", False), ("unchanged", False),
                             ("improved", True))[(i // 3) % 4]
        db.session.add(TreatmentOutcome(
            patient=patient, status=status, worsening=worsening, baseline=5, latest_nprs=5,
            rated_count=2, updated_at=now - ago(i, 13, 45)))
        # Follow-ups: answered up to 16 days ago (two weeks count), or sent and due 8 to 29
        # days ago (two weeks make them overdue, until their link expires at 28 days).
        if i % 2:
            db.session.add(_follow_up(patient, now - timedelta(days=8, hours=(i * 11) % 500),
                                      answered=False))
        else:
            db.session.add(_follow_up(patient, now - timedelta(hours=(i * 7) % 400),
                                      answered=True))
        if i % 2 == 0:  # consent withdrawn, not yet acknowledged
            db.session.add(_withdrawn(patient, now - ago(i, 19, 70)))
        if i % 3 != 1:  # a correction request, open (some extended) or answered
            received = now - ago(i, 23, 90)
            db.session.add(RecordRequest(
                patient=patient, kind="correction", channel="portal", received_at=received,
                due_at=received + timedelta(days=30),
                extended_due_at=received + timedelta(days=55) if i % 7 == 0 else None,
                answered_at=now if i % 5 == 4 else None,
                outcome="declined" if i % 5 == 4 else None))
        for page in range(1 + i % 2 if i % 5 in (0, 2) else 0):
            db.session.add(Document(
                patient=patient, kind="clearance", status="pending", original_name="c.pdf",
                content_type="application/pdf", original_type="application/pdf", size=10,
                sha256=f"{i:060d}{page:04d}", blob_key=f"mix-{i}-{page}",
                created_at=now - ago(i, 11, 50) - timedelta(minutes=page)))
    for i in range(n // 2):
        user = User(email=f"asked{i}@example.org", name=f"Asked {i}", role="patient",
                    created_at=now, invited_by_id=doctor.id)
        db.session.add_all([user, Patient(user=user, practitioner_id=owners[i % 3],
                                          status="invited", created_at=now)])
        db.session.add(AccountToken(user=user, purpose="invite",
                                    token_hash=crypto.token_hash(f"asked-{i}"),
                                    created_at=now - ago(i, 17, 60),
                                    expires_at=now + timedelta(days=7),
                                    created_by_id=doctor.id))
    db.session.commit()


def _expected(who: str, user: User, limit: int) -> dict[str, tuple[int, list[int]]]:
    """Each section's count and the ids behind its first lines, from one plain query per
    list for "assigned to me or to no one" (or everyone)."""
    now = clock.now()
    scope = (or_(Patient.practitioner_id == user.id, Patient.practitioner_id.is_(None))
             if who == "mine" else true())

    def ids(column, *where, order):
        return list(db.session.scalars(select(column).where(scope, *where).order_by(*order)))

    def rows(model, *where, order, clinic=False):
        found = select(model.id).where(Patient.id == model.patient_id, *where)
        if not clinic:
            found = found.where(scope)
        return list(db.session.scalars(found.order_by(*order, model.id)))

    # Red flags are the whole clinic's, whatever "who" says (SPEC 5.1).
    safety = rows(SafetyReport, SafetyReport.alert.is_(True),
                  SafetyReport.acknowledged_at.is_(None), order=[SafetyReport.created_at],
                  clinic=True)
    waiting = (IntakeResponse.status == "submitted", IntakeResponse.reviewed_at.is_(None))
    flagged = rows(IntakeResponse, *waiting, IntakeResponse.has_red_flags.is_(True),
                   order=[IntakeResponse.submitted_at], clinic=True)
    plain = rows(IntakeResponse, *waiting, IntakeResponse.has_red_flags.is_(False),
                 order=[IntakeResponse.submitted_at])
    overdue = rows(TreatmentSession, treatment_services.overdue_clause(now),
                   order=[TreatmentSession.rating_opens_at])
    outcome = {key: rows(TreatmentOutcome, where, Patient.status == "in_treatment",
                         order=[TreatmentOutcome.updated_at.desc()])
               for key, where in (("worse", TreatmentOutcome.worsening.is_(True)),
                                  ("improved", TreatmentOutcome.status == "improved"))}
    follow_ups = {
        "answered": rows(FollowUp, FollowUp.status == "answered",
                         FollowUp.answered_at >= now - timedelta(days=14),
                         order=[FollowUp.answered_at.desc()]),
        "overdue": rows(FollowUp, FollowUp.status == "sent",
                        FollowUp.due_at <= now - timedelta(days=14),
                        FollowUp.token_expires_at > now, order=[FollowUp.due_at])}
    corrections = rows(RecordRequest, RecordRequest.kind == "correction",
                       RecordRequest.answered_at.is_(None),
                       order=[func.coalesce(RecordRequest.extended_due_at, RecordRequest.due_at)])
    withdrawn = rows(ConsentSignature, ConsentSignature.withdrawn_at.is_not(None),
                     ConsentSignature.withdrawal_seen_at.is_(None),
                     order=[ConsentSignature.withdrawn_at])
    clearances = list(db.session.scalars(
        select(Patient.id).join(Document, Document.patient_id == Patient.id)
        .where(scope, Document.kind == "clearance", Document.status == "pending")
        .group_by(Patient.id).order_by(func.min(Document.created_at), Patient.id)))
    invitations = ids(AccountToken.id, AccountToken.user_id == User.id,
                      Patient.user_id == User.id, AccountToken.purpose == "invite",
                      AccountToken.used_at.is_(None), User.role == "patient",
                      User.password_hash.is_(None), User.active.is_(True),
                      Patient.status == "invited",
                      order=[AccountToken.created_at.desc(), AccountToken.id.desc()])
    return {"red-flags": (len(safety) + len(flagged), (safety[:limit] + flagged)[:limit]),
            "consent-withdrawn": (len(withdrawn), withdrawn[:limit]),
            "new-intakes": (len(plain), plain[:limit]),
            "clearances-to-review": (len(clearances), clearances[:limit]),
            "correction-requests": (len(corrections), corrections[:limit]),
            "worsening": (len(outcome["worse"]), outcome["worse"][:limit]),
            "ratings-overdue": (len(overdue), overdue[:limit]),
            "improved": (len(outcome["improved"]), outcome["improved"][:limit]),
            "follow-ups-answered": (len(follow_ups["answered"]), follow_ups["answered"][:limit]),
            "follow-ups-overdue": (len(follow_ups["overdue"]), follow_ups["overdue"][:limit]),
            "invitations": (len(invitations), invitations[:limit])}


@pytest.mark.parametrize("who", ["mine", "all"])
def test_every_list_and_count_is_that_of_a_plain_query(app, doctor, colleague, who):
    """The worklist reads each list and its count in one pass and, on PostgreSQL, "mine" in
    two halves (my patients, no one's) where that reads fewer rows: every section must
    still be the count and the first lines, in order, of one plain query for "assigned to
    me or to no one" (or everyone), for each user, whole pages and single sections alike."""
    app.config["WORKLIST_LIST_SIZE"] = 3
    _interleaved(60, doctor, colleague)
    for user in (doctor, colleague):
        expected = _expected(who, user, 3)
        assert min(count for count, _ids in expected.values()) > 3
        scope = worklist.Scope(who, user.id)
        for keys in (worklist.SECTIONS, *((key,) for key in worklist.SECTIONS)):
            for key, section in worklist.build(scope, keys).items():
                lines = [item.patient.id if item.kind == "clearance" else item.row.id
                         for item in section.items]
                assert (section.count, lines) == expected[key], (user.name, keys, key)
                if who == "mine" and key != "red-flags":
                    assert {item.patient.practitioner_id
                            for item in section.items} <= {user.id, None}, key


# --- the demo (SPEC 9) -----------------------------------------------------------------------

def test_seed_demo_fills_every_section(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    lee = db.session.scalar(select(User).where(User.email == "dr.lee@example.com"))
    assert worklist.default_who(lee) == "mine"
    for who in ("mine", "all"):
        sections = worklist.build(worklist.Scope(who, lee.id))
        empty = [key for key, section in sections.items() if not section.count]
        assert empty == [], (who, empty)
