"""The clinic's identity on its pages (issue 15): its name in the header, with its logo when
the admin uploaded one; at the foot of patients' pages, and of pages for people not signed
in yet, how to reach it (a telephone link and the address). Staff pages leave them out."""
from __future__ import annotations

import re

import pytest

from portal.models import ClinicSettings
from portal.templating import tel_href
from tests.factories import make_patient, make_practitioner


@pytest.fixture
def identity(db):
    settings = db.session.get(ClinicSettings, 1) or ClinicSettings(id=1, name="x")
    settings.name = "Clinique Les Érables"
    settings.phone, settings.address = "(604) 555-0100 ext. 12", "1234 West Broadway, Vancouver"
    db.session.add(settings)
    db.session.commit()
    return settings


def footer(html: str) -> str:
    return re.search(r'<footer class="site-footer">.*?</footer>', html, re.S).group(0)


def test_signed_out_pages_say_how_to_reach_the_clinic(client, identity):
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'class="brand__name">Clinique Les Érables</span>' in html
    foot = footer(html)
    assert '<a class="site-footer__phone" href="tel:6045550100;ext=12">' in foot
    assert "(604) 555-0100 ext. 12</a>" in foot
    assert "1234 West Broadway, Vancouver" in foot
    assert "<img" not in html.split("</header>")[0]


def test_patient_pages_show_it_and_staff_pages_do_not(client, auth, identity):
    patient = make_patient()
    auth.login(patient)
    assert "site-footer__phone" in footer(client.get("/me/").get_data(as_text=True))
    auth.logout()
    auth.login(make_practitioner())
    html = client.get("/clinic/").get_data(as_text=True)
    assert "Clinique Les Érables" in footer(html)
    assert "site-footer__phone" not in footer(html) and "West Broadway" not in footer(html)


def test_nothing_is_said_when_nothing_is_set(client, db):
    foot = footer(client.get("/auth/login").get_data(as_text=True))
    assert "<address" not in foot and "tel:" not in foot


def test_the_logo_shows_beside_the_name(client, identity, db):
    identity.logo, identity.logo_mimetype, identity.logo_digest = b"\x89PNG", "image/png", "ab" * 32
    db.session.commit()
    header = client.get("/auth/login").get_data(as_text=True).split("</header>")[0]
    assert re.search(r'<img class="brand__logo" src="[^"]*abab[^"]*" alt="">', header)


def test_a_telephone_link_keeps_the_digits_and_the_plus():
    assert tel_href("+1 (604) 555-0100") == "+16045550100"
    assert tel_href(None) == ""
