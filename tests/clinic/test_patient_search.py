"""The staff patient list (SPEC 5.2, 10 /clinic/patients/): search by name or e-mail
(case- and accent-insensitive), filters by status and practitioner, newest activity first,
keyset pages that neither repeat nor skip anyone, a bookmarkable GET form that works without
JavaScript, and an htmx fragment for search as you type."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest


from portal import clock
from portal.clinic import search
from portal.models import Patient, User
from portal.models.patient import PATIENT_STATUSES
from tests.factories import make_patient, make_practitioner
from tests.queries import queries_for

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
    assert 'hx-trigger="submit, input delay:300ms"' in page
    assert 'hx-target="#patient-results"' in page and 'hx-push-url="true"' in page


def test_staff_nav_links_to_patients(client, staff, db):
    body = _page(client).get_data(as_text=True)
    assert 'href="/clinic/patients/" aria-current="page"' in body




def test_query_count_does_not_grow_with_patients(client, staff, db):
    _bulk(db, 10)
    queries_for(db, client, "/clinic/patients/")  # warm up
    small = queries_for(db, client, "/clinic/patients/")
    small_search = queries_for(db, client, "/clinic/patients/?q=bulk&status=invited")
    _bulk(db, 190, start=10)
    assert queries_for(db, client, "/clinic/patients/") == small
    assert queries_for(db, client, "/clinic/patients/?q=bulk&status=invited") == small_search
