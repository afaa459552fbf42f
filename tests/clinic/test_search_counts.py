"""Search results say how many they are in a polite status line (SPEC 8.2): the page draws
the line outside the part htmx swaps (a live region swapped in with the results is not
announced reliably), and every swapped fragment carries the new text out of band."""
from __future__ import annotations

import re

import pytest

from portal import audit
from portal.extensions import db as _db
from tests.factories import make_admin, make_patient, make_practitioner

HX = {"HX-Request": "true"}


def _status(page: str, name: str) -> re.Match:
    match = re.search(rf'<p id="{name}"([^>]*)>(.*?)</p>', page, re.S)
    assert match, f"no #{name} on the page"
    return match


def _outside(page: str, status: str, swapped: str) -> bool:
    """The status line is not inside the element htmx swaps."""
    start = page.index(f'id="{swapped}"')
    return page.index(f'id="{status}"') < start or \
        page.index(f'id="{status}"') > page.index("</section>", start)


@pytest.mark.parametrize(("locale", "two", "one", "none"), [
    ("en", "2 patients found.", "1 patient found.", "No patient found."),
    ("fr_CA", "2 patients trouvés.", "1 patient trouvé.", "Aucun patient trouvé."),
])
def test_the_patient_search_announces_its_count(client, auth, db, locale, two, one, none):
    auth.login(make_practitioner(locale=locale))
    make_patient(name="Geneviève Côté")
    make_patient(name="Marc Roy")
    page = client.get("/clinic/patients/").get_data(as_text=True)
    line = _status(page, "patient-results-status")
    assert 'role="status"' in line.group(1) and line.group(2).strip() == two
    assert _outside(page, "patient-results-status", "patient-results")

    fragment = client.get("/clinic/patients/?q=cote", headers=HX).get_data(as_text=True)
    line = _status(fragment, "patient-results-status")
    assert 'data-hx-swap-oob="innerHTML"' in line.group(1)
    assert line.group(2).strip() == one
    fragment = client.get("/clinic/patients/?q=nobody", headers=HX).get_data(as_text=True)
    assert _status(fragment, "patient-results-status").group(2).strip() == none


def test_a_page_of_a_longer_list_says_it_is_a_page(client, auth, db):
    """Pages are by keyset, with no count of every match: a page says what it holds."""
    from portal.clinic.patients.services import PAGE_SIZE
    auth.login(make_practitioner())
    for n in range(PAGE_SIZE + 1):
        make_patient(name=f"Pat {n}", password=None)
    page = client.get("/clinic/patients/").get_data(as_text=True)
    assert _status(page, "patient-results-status").group(2).strip() == \
        f"{PAGE_SIZE} patients on this page."


def test_the_audit_search_announces_its_count(client, auth, db):
    admin = make_admin()
    auth.login(admin)
    audit.write("patient.exported", actor=admin)
    _db.session.commit()
    page = client.get("/admin/audit").get_data(as_text=True)
    line = _status(page, "audit-results-status")
    assert 'role="status"' in line.group(1) and line.group(2).strip().endswith("events found.")
    assert _outside(page, "audit-results-status", "audit-search")
    fragment = client.get("/admin/audit?action=patient.exported",
                          headers=HX).get_data(as_text=True)
    line = _status(fragment, "audit-results-status")
    assert 'data-hx-swap-oob="innerHTML"' in line.group(1)
    assert line.group(2).strip() == "1 event found."
