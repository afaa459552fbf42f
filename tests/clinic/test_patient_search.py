"""The staff patient list (SPEC 5.2, 10 /clinic/patients/): search by name or e-mail
(case- and accent-insensitive), phone number or date of birth, filters by status and
practitioner, newest activity or pain change first, keyset pages that neither repeat nor
skip anyone, a bookmarkable GET form that works without JavaScript, an htmx fragment for
search as you type, and a number of SQL statements that does not grow with the patients."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import insert, select

from portal import clock
from portal.clinic.patients import services as search
from portal.models import Patient, TreatmentOutcome, User
from portal.models.patient import PATIENT_STATUSES
from portal.searchtext import search_text
from tests.factories import make_patient, make_practitioner
from tests.queries import grow_to, queries_for

ROW = re.compile(r'<tr id="patient-([^"]+)"')
NEXT = re.compile(r'<a class="button button--quiet" href="([^"]+)" rel="next"')


@pytest.fixture
def staff(client, auth, db):
    user = make_practitioner(name="Paula Practitioner")
    assert auth.login(user).status_code == 303
    return user


def _page(client, **params):
    response = client.get("/clinic/patients/", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def _shown(client, **params) -> list[str]:
    return ROW.findall(_page(client, **params).get_data(as_text=True))


def _next(response) -> str | None:
    match = NEXT.search(response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def _pid(user: User) -> str:
    return user.patient.public_id


def _bulk(db, n: int, start: int = 0) -> list[Patient]:
    """Many patients quickly, each with a distinct last activity."""
    now = clock.now()
    patients = []
    for i in range(start, start + n):
        user = User(email=f"bulk{i}@example.org", name=f"Bulk {i}", role="patient",
                    created_at=now)
        patients.append(Patient(user=user, status="invited", created_at=now,
                                last_activity_at=now - timedelta(minutes=i)))
    db.session.add_all(patients)
    db.session.commit()
    return patients


def test_every_status_has_a_label():
    assert set(search.STATUS_LABELS) == set(PATIENT_STATUSES)


def test_fold_removes_case_and_accents():
    assert search.fold("Côté ÉLOÏSE Œuvre") == "cote eloise oeuvre"


def test_matches_name_email_case_and_accents(client, staff, db):
    cote = make_patient(name="Geneviève Côté", email="gcote@example.org")
    roy = make_patient(name="Marc Roy", email="MARC.ROY@Example.org")
    other = make_patient(name="Anne Smith", email="anne@example.org")
    assert _shown(client, q="cote") == [_pid(cote)]
    assert _shown(client, q="CÔTÉ") == [_pid(cote)]
    assert _shown(client, q="genevieve") == [_pid(cote)]
    assert _shown(client, q="marc.roy@example") == [_pid(roy)]
    assert _shown(client, q="smith") == [_pid(other)]
    assert _shown(client, q="100%") == []  # LIKE wildcards are literal
    assert set(_shown(client)) >= {_pid(cote), _pid(roy), _pid(other)}


def test_uppercase_accents_in_the_database_match(client, staff, db):
    eloise = make_patient(name="ÉLOÏSE CÔTÉ")
    assert _shown(client, q="eloise cote") == [_pid(eloise)]


def test_filters_by_status_and_practitioner(client, staff, db):
    mine = make_patient(name="Mine Patient")
    theirs = make_patient(name="Theirs Patient")
    colleague = make_practitioner(name="Colin Colleague")
    mine.patient.practitioner_id = staff.id
    mine.patient.status = "in_treatment"
    theirs.patient.practitioner_id = colleague.id
    theirs.patient.status = "discharged"
    db.session.commit()
    assert _shown(client, status="in_treatment") == [_pid(mine)]
    assert _shown(client, status="discharged") == [_pid(theirs)]
    assert _shown(client, practitioner=staff.public_id) == [_pid(mine)]
    assert _shown(client, practitioner=colleague.public_id) == [_pid(theirs)]
    assert _shown(client, practitioner=staff.public_id, status="discharged") == []
    body = _page(client).get_data(as_text=True)
    assert "Colin Colleague" in body and "In treatment" in body


def test_unknown_filter_is_a_form_error(client, staff, db):
    response = client.get("/clinic/patients/", query_string={"status": "nonsense"})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_sorted_by_last_activity_newest_first(client, staff, db):
    old = make_patient(name="Old")
    new = make_patient(name="New")
    old.patient.last_activity_at = clock.now() - timedelta(days=3)
    new.patient.last_activity_at = clock.now() - timedelta(hours=1)
    db.session.commit()
    shown = _shown(client)
    assert shown.index(_pid(new)) < shown.index(_pid(old))


def _walk(client, first_params: dict, between=None) -> list[str]:
    seen: list[str] = []
    response = _page(client, **first_params)
    pages = 0
    while True:
        seen += ROW.findall(response.get_data(as_text=True))
        pages += 1
        url = _next(response)
        if not url:
            break
        assert "offset" not in url and "page=" not in url
        if between:
            between(pages)
        response = client.get(url)
        assert response.status_code == 200
    return seen


def test_keyset_pages_show_everyone_once(client, staff, db):
    patients = _bulk(db, 60)
    # Ties on the activity are broken by id.
    for p in patients[:10]:
        p.last_activity_at = patients[0].last_activity_at
    db.session.commit()
    seen = _walk(client, {})
    assert len(seen) == len(set(seen)) == 60
    assert set(seen) == {p.public_id for p in patients}


def test_keyset_pages_stable_when_patients_arrive(client, staff, db):
    patients = _bulk(db, 60)
    added = []

    def arrive(page):
        added.extend(_bulk(db, 3, start=1000 + 10 * page))

    seen = _walk(client, {}, between=arrive)
    originals = [p.public_id for p in patients]
    assert all(seen.count(pid) == 1 for pid in originals)
    assert len(seen) == len(set(seen))


def test_next_page_keeps_the_search(client, staff, db):
    _bulk(db, 40)
    response = _page(client, q="bulk 1")  # Bulk 1, Bulk 10-19, Bulk 100+: 11 here
    assert _next(response) is None
    response = _page(client, q="bulk")
    url = _next(response)
    assert parse_qs(urlsplit(url).query)["q"] == ["bulk"]
    assert "after" in parse_qs(urlsplit(url).query)


def test_bad_cursor_starts_from_the_first_page(client, staff, db):
    patients = _bulk(db, 3)
    assert _shown(client, after="not-a-cursor") == [p.public_id for p in patients]


def test_bookmarkable_and_plain_get(client, staff, db):
    target = make_patient(name="Bookmark Béatrice")
    make_patient(name="Someone Else")
    response = _page(client, q="beatrice")
    body = response.get_data(as_text=True)
    # A whole page, a GET form that works without JavaScript, the search filled in.
    assert "<html" in body and 'method="get"' in body
    assert 'value="beatrice"' in body
    assert ROW.findall(body) == [_pid(target)]
    # The same address again (a bookmark, the back button): the same results.
    assert _shown(client, q="beatrice") == [_pid(target)]
    # Links to the patient's staff pages.
    for part in ("intake", "documents", "sessions"):
        assert f"/clinic/patients/{_pid(target)}/{part}" in body


def test_htmx_gets_the_results_fragment(client, staff, db):
    target = make_patient(name="Fragment Fiona")
    response = client.get("/clinic/patients/", query_string={"q": "fiona"},
                          headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<form" not in body
    assert body.lstrip().startswith('<div id="patient-results"')
    assert ROW.findall(body) == [_pid(target)]
    assert "HX-Request" in response.headers.get("Vary", "")
    page = _page(client).get_data(as_text=True)
    assert 'data-hx-trigger="submit, input delay:300ms"' in page
    assert 'data-hx-target="#patient-results"' in page and 'data-hx-push-url="true"' in page


def test_staff_nav_links_to_patients(client, staff, db):
    body = _page(client).get_data(as_text=True)
    assert 'href="/clinic/patients/" aria-current="page"' in body




def test_query_count_does_not_grow_with_patients(client, staff, db):
    _bulk(db, 10)
    queries_for(db, client, "/clinic/patients/")  # warm up
    small = queries_for(db, client, "/clinic/patients/")
    small_search = queries_for(db, client, "/clinic/patients/?q=bulk&status=invited")
    _bulk(db, 90, start=10)
    grow_to(db, 1000, [staff])
    assert queries_for(db, client, "/clinic/patients/") == small
    assert queries_for(db, client, "/clinic/patients/?q=bulk&status=invited") == small_search


# --- phone, date of birth, the search column ---------------------------------------------

def _contact(user: User, phone: str | None = None, dob: date | None = None) -> None:
    user.patient.phone = phone
    user.patient.date_of_birth = dob


def test_search_text_follows_name_email_phone_and_birth_date(db):
    user = make_patient(name="Hélène Gagné", email="HG@Example.org")
    assert user.patient.search_text == "helene gagne hg@example.org"
    _contact(user, "6045550123", date(1975, 3, 21))
    db.session.commit()
    assert user.patient.search_text == "helene gagne hg@example.org 6045550123 1975-03-21"
    user.name, user.email = "Hélène Tremblay", "ht@example.org"
    db.session.commit()
    db.session.expire_all()
    patient = db.session.get(Patient, user.patient.id)
    assert patient.search_text == search_text("Hélène Tremblay", "ht@example.org",
                                              "6045550123", date(1975, 3, 21))


def test_the_submitted_intake_gives_the_phone_and_birth_date(db):
    from tests.intake.helpers import make_intake

    user = make_patient(name="Intake Irène")
    make_intake(user, phone="+1 (604) 555-0188", dob="1981-11-02")
    db.session.expire_all()
    patient = db.session.get(Patient, user.patient.id)
    assert (patient.phone, patient.date_of_birth) == ("6045550188", date(1981, 11, 2))
    assert "6045550188 1981-11-02" in patient.search_text


def test_an_amendment_changes_the_phone_and_birth_date(app, db):
    from portal.intake import services as intake
    from portal.intake.forms import StepInput
    from tests.intake.helpers import make_intake

    user = make_patient(name="Amended Aline")
    response = make_intake(user)
    doctor = make_practitioner()
    patient = db.session.get(Patient, user.patient.id)
    result = intake.amend(patient, doctor, response, 1,
                          StepInput(values={"phone": "250 555 7777", "dob": "1962-01-30"}),
                          "Typing mistake")
    assert result.amendment is not None
    db.session.expire_all()
    patient = db.session.get(Patient, user.patient.id)
    assert (patient.phone, patient.date_of_birth) == ("2505557777", date(1962, 1, 30))
    assert "2505557777 1962-01-30" in patient.search_text


@pytest.mark.parametrize("q, kind", [
    ("1975-03-21", "date"), ("21/03/1975", "date"), ("1/3/1975", "date"),
    ("604-555-0123", "phone"), ("(604) 555 0123", "phone"), ("+1 604 555 0123", "phone"),
    ("555", "phone"), ("12", "words"), ("31/02/1990", "words"), ("1975-02-30", "words"),
    ("Côté", "words"), ("marc.roy@example", "words"), ("", "none"), ("   ", "none"),
])
def test_what_a_term_means(q, kind):
    assert search.parse_term(q).kind == kind


def test_parse_term_values():
    assert search.parse_term("21/03/1975").date == date(1975, 3, 21)
    assert search.parse_term("+1 (604) 555-0123").digits == "6045550123"
    assert search.parse_term("  Éloïse   CÔTÉ ").words == ("eloise", "cote")


def test_search_by_phone(client, staff, db):
    ann = make_patient(name="Ann Phone")
    bob = make_patient(name="Bob Phone")
    born = make_patient(name="Born In 1975")
    _contact(ann, "6045550123")
    _contact(bob, "2505550199")
    _contact(born, None, date(1975, 5, 5))
    db.session.commit()
    assert _shown(client, q="604-555-0123") == [_pid(ann)]
    assert _shown(client, q="(604) 555 0123") == [_pid(ann)]
    assert _shown(client, q="+1 604 555 0123") == [_pid(ann)]
    assert _shown(client, q="0199") == [_pid(bob)]
    assert set(_shown(client, q="555")) == {_pid(ann), _pid(bob)}
    # Digits look in the phone only, not in a date of birth.
    assert _shown(client, q="1975") == []


def test_search_by_date_of_birth(client, staff, db):
    ann = make_patient(name="Ann Born")
    bob = make_patient(name="Bob Born")
    _contact(ann, None, date(1975, 3, 21))
    _contact(bob, None, date(1975, 12, 3))
    db.session.commit()
    assert _shown(client, q="1975-03-21") == [_pid(ann)]
    assert _shown(client, q="21/03/1975") == [_pid(ann)]  # the clinic's day/month/year
    assert _shown(client, q="3/12/1975") == [_pid(bob)]
    assert _shown(client, q="31/02/1975") == []
    body = _page(client, q="21/03/1975").get_data(as_text=True)
    assert '<time datetime="1975-03-21">' in body


def test_words_match_in_any_order_and_with_the_birth_date(client, staff, db):
    cote = make_patient(name="Geneviève Côté")
    make_patient(name="Geneviève Roy")
    _contact(cote, None, date(1980, 7, 14))
    db.session.commit()
    assert _shown(client, q="cote genevieve") == [_pid(cote)]
    assert _shown(client, q="genevieve 1980-07") == [_pid(cote)]


# --- sorting by pain change --------------------------------------------------------------

def _outcome(db, user: User, baseline: int | None, latest: int | None) -> None:
    db.session.add(TreatmentOutcome(patient_id=user.patient.id, baseline=baseline,
                                    latest_nprs=latest, rated_count=1 if latest else 0,
                                    status="unknown", updated_at=clock.now()))
    db.session.commit()


def test_outcome_rows_give_the_pain_change(db):
    user = make_patient()
    _outcome(db, user, 7, 3)
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).pain_change == -4
    row = db.session.scalar(select(TreatmentOutcome))
    row.latest_nprs = 9
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).pain_change == 2
    row.baseline = None
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).pain_change is None


def test_treatment_keeps_the_pain_change(app, db):
    from tests.treatment.helpers import make_treatable, rate, record

    user = make_treatable(baseline=6)
    session = record(user, hours_ago=30)
    db.session.expire_all()  # as a new request would see it
    rate(session, pain=3)
    db.session.expire_all()
    assert db.session.get(Patient, user.patient.id).pain_change == -3


def test_sort_by_pain_change_both_ways(client, staff, db):
    better = make_patient(name="Much Better")
    little = make_patient(name="Little Better")
    same = make_patient(name="Same Pain")
    worse = make_patient(name="Worse Pain")
    unknown = make_patient(name="Not Rated")
    for user, (baseline, latest) in ((better, (8, 2)), (little, (6, 5)), (same, (5, 5)),
                                     (worse, (4, 7)), (unknown, (6, None))):
        _outcome(db, user, baseline, latest)
    others = _shown(client, sort="improved")[5:]  # the signed-in staff have no patient
    assert others == []
    assert _shown(client, sort="improved") == [_pid(u) for u in (better, little, same, worse,
                                                                unknown)]
    assert _shown(client, sort="worsened") == [_pid(u) for u in (worse, same, little, better,
                                                                unknown)]
    body = _page(client, sort="improved").get_data(as_text=True)
    assert "6 points less" in body and "3 points more" in body and "No change" in body
    assert "Not known yet" in body and "most improved first" in body
    assert 'value="improved" selected' in body or 'selected value="improved"' in body


def _bulk_outcomes(db, patients: list[Patient], changes) -> None:
    for patient, change in zip(patients, changes):
        if change is not None:
            db.session.add(TreatmentOutcome(patient_id=patient.id, baseline=5,
                                            latest_nprs=5 + change, rated_count=1,
                                            status="unknown", updated_at=clock.now()))
    db.session.commit()


@pytest.mark.parametrize("sort", ["improved", "worsened"])
def test_pain_change_pages_show_everyone_once_in_order(client, staff, db, sort):
    patients = _bulk(db, 70)
    # Many ties (broken by id), and a third with no change yet: pages cross from one
    # part to the other.
    _bulk_outcomes(db, patients, [None if i % 3 == 0 else (i % 9) - 4 for i in range(70)])
    seen = _walk(client, {"sort": sort})
    assert len(seen) == len(set(seen)) == 70
    db.session.expire_all()
    change = {p.public_id: p.pain_change for p in db.session.scalars(select(Patient))}
    known = [change[pid] for pid in seen if change[pid] is not None]
    assert known == sorted(known, reverse=sort == "worsened")
    assert all(change[pid] is None for pid in seen[len(known):])


def test_pain_change_pages_stable_when_patients_arrive(client, staff, db):
    patients = _bulk(db, 60)
    _bulk_outcomes(db, patients, [None if i % 4 == 0 else (i % 7) - 3 for i in range(60)])
    added = []

    def arrive(page):
        new = _bulk(db, 4, start=1000 + 10 * page)
        _bulk_outcomes(db, new, [-4, 0, 3, None])
        added.extend(new)

    seen = _walk(client, {"sort": "improved"}, between=arrive)
    originals = [p.public_id for p in patients]
    assert all(seen.count(pid) == 1 for pid in originals)
    assert len(seen) == len(set(seen))


def test_the_address_keeps_the_sort(client, staff, db):
    patients = _bulk(db, 30)
    _bulk_outcomes(db, patients, [i % 5 for i in range(30)])
    response = _page(client, sort="worsened", q="bulk")
    url = _next(response)
    assert parse_qs(urlsplit(url).query)["sort"] == ["worsened"]
    assert parse_qs(urlsplit(url).query)["q"] == ["bulk"]
    # The default order is not spelled out; an unknown one is a form error.
    assert "sort=" not in (_next(_page(client)) or "")
    assert client.get("/clinic/patients/", query_string={"sort": "age"}).status_code == 422


def test_a_cursor_from_another_order_starts_again(client, staff, db):
    patients = _bulk(db, 30)
    _bulk_outcomes(db, patients, [i % 5 for i in range(30)])
    cursor = parse_qs(urlsplit(_next(_page(client))).query)["after"][0]
    first = _shown(client, sort="improved")
    assert _shown(client, sort="improved", after=cursor) == first


def test_no_javascript_form_has_the_sort(client, staff, db):
    body = _page(client).get_data(as_text=True)
    assert 'method="get"' in body and 'name="sort"' in body
    assert "Pain: most improved" in body


# --- the number of statements does not grow with the patients (SPEC 8.5) -----------------

def _bulk_fast(db, n: int, start: int) -> None:
    """Patients by the thousand: two multi-row INSERTs, with phones, birth dates, outcomes."""
    now = clock.now()
    user_ids = db.session.scalars(
        insert(User).returning(User.id, sort_by_parameter_order=True),
        [{"email": f"fast{i}@example.org", "name": f"Fast Patient {i}", "role": "patient",
          "created_at": now} for i in range(start, start + n)]).all()
    rows = []
    for i, user_id in zip(range(start, start + n), user_ids):
        phone, dob = f"604555{i:04d}", date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
        rows.append({"user_id": user_id, "status": "in_treatment", "created_at": now,
                     "last_activity_at": now - timedelta(seconds=i), "phone": phone,
                     "date_of_birth": dob, "pain_change": (i % 9) - 4 if i % 4 else None,
                     "search_text": search_text(f"Fast Patient {i}", f"fast{i}@example.org",
                                                phone, dob)})
    db.session.execute(insert(Patient), rows)
    db.session.commit()


def test_query_count_same_with_10_and_1000_patients(client, staff, db):
    _bulk_fast(db, 10, 0)
    urls = ["/clinic/patients/", "/clinic/patients/?q=fast+patient&status=in_treatment",
            "/clinic/patients/?q=604-555-0003", "/clinic/patients/?q=1953-04-04",
            "/clinic/patients/?sort=improved", "/clinic/patients/?sort=worsened&q=fast"]
    for url in urls:
        queries_for(db, client, url)  # warm up
    small = {url: queries_for(db, client, url) for url in urls}
    _bulk_fast(db, 990, 10)
    assert Patient.query.count() == 1000
    large = {url: queries_for(db, client, url) for url in urls}
    assert large == small
    # Page 2 (a cursor) costs the same as page 1.
    for url in ("/clinic/patients/", "/clinic/patients/?sort=improved"):
        page = client.get(url)
        following = _next(page)
        assert following and queries_for(db, client, following) == small[url]


def test_the_audit_log_finds_a_patient_as_the_search_does(app, db):
    from portal import audit

    cote = make_patient(name="Geneviève Côté")
    other = make_patient(name="Other Person")
    _contact(cote, "6045550123", date(1975, 3, 21))
    db.session.commit()
    audit.write("record.viewed", patient=cote.patient)
    audit.write("record.viewed", patient=other.patient)
    db.session.commit()

    def found(term: str) -> set[int]:
        page = audit.search_audit(audit.AuditFilters(patient=term))
        return {row.patient_public_id for row in page.rows}

    for term in ("cote", "GENEVIEVE", "604-555-0123", "21/03/1975", cote.patient.public_id):
        assert found(term) == {cote.patient.public_id}, term
    assert found("nobody") == set()
