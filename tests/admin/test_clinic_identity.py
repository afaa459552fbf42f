"""Issue 15, identity and help: the clinic's name, phone, address, default language and logo
in the admin settings; the logo served under its digest; hostile files refused."""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from portal.models import AuditEvent, ClinicSettings
from portal.templating import tel_href
from tests.auth.helpers import field_error, html, sign_in
from tests.factories import make_admin, make_patient, make_practitioner
from tests.markup import parse

SETTINGS = {"name": "Kitsilano IMS Clinic", "phone": "604-555-0123 ext. 12",
            "address": "1234 Example Street, Vancouver, BC V6K 0A1", "locale": "fr_CA",
            "timezone": "America/Vancouver",
            # Unchanged (the retention schedule and follow-ups; tests/rights).
            "retention_years": "10", "follow_up_first_weeks": "6",
            "follow_up_second_weeks": "12"}


@pytest.fixture
def admin(client):
    person = make_admin(name="Alex Admin")
    assert sign_in(client, person).status_code == 303
    return person


def settings_row(db) -> ClinicSettings:
    db.session.expire_all()
    row = db.session.get(ClinicSettings, 1)
    assert row is not None
    return row


def events(db, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def png(size=(800, 400), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, "PNG", **save)
    return out.getvalue()


def jpeg(size=(600, 600)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "JPEG", exif=exif)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 60000) -> bytes:
    """A few hundred bytes declaring side × side pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\0" * (side + 1) * 4, 9)  # the first rows, all zero
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def noise_png(side: int = 600) -> bytes:
    """More than 512 KB: random pixels do not compress."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def post_settings(client, logo: tuple[bytes, str, str] | None = None, **changes):
    data: dict = {**SETTINGS, **changes}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[0]), logo[1], logo[2])
    return client.post("/admin/settings", data=data, content_type="multipart/form-data")


def logo_url(row: ClinicSettings) -> str:
    return f"/clinic-logo/{row.logo_digest}"


# --- name, phone, address, language -----------------------------------------------------

def test_identity_is_saved_shown_and_audited(client, admin, db):
    response = post_settings(client)
    assert response.status_code == 303 and response.location.endswith("/admin/")
    row = settings_row(db)
    assert (row.name, row.phone, row.address, row.locale) == (
        "Kitsilano IMS Clinic", "604-555-0123 ext. 12",
        "1234 Example Street, Vancouver, BC V6K 0A1", "fr_CA")
    assert tel_href(row.phone) == "6045550123;ext=12"

    doc = parse(html(client.get("/admin/")))
    assert doc.by_id("clinic-phone").attrs["value"] == "604-555-0123 ext. 12"
    assert doc.by_id("clinic-phone").attrs["type"] == "tel"
    assert doc.by_id("clinic-address").attrs["value"] == SETTINGS["address"]
    locale = doc.by_id("clinic-locale")
    assert locale is not None
    assert [o.attrs["value"] for o in locale.children if "selected" in o.attrs] == ["fr_CA"]
    form = next(f for f in doc.find_all("form") if f.attrs.get("action") == "/admin/settings")
    assert form.attrs["enctype"] == "multipart/form-data"
    assert form.attrs["data-hx-encoding"] == "multipart/form-data"

    [event] = events(db, "settings.changed")
    assert event.actor_id == admin.id
    detail = json.loads(event.detail)
    assert detail["phone"] == "604-555-0123 ext. 12" and detail["locale"] == "fr_CA"
    assert detail["address"] == SETTINGS["address"]

    # Emptied, the phone and the address are gone (not kept as empty strings).
    assert post_settings(client, phone="", address=" ").status_code == 303
    row = settings_row(db)
    assert (row.phone, row.address) == (None, None)


@pytest.mark.parametrize("phone", ["+1 (604) 555-0123", "604.555.0123", "6045550123 x 7",
                                   "+33 1 23 45 67 89", "604-555-0123 poste 204"])
def test_plausible_phones_are_accepted(client, admin, db, phone):
    assert post_settings(client, phone=phone).status_code == 303
    assert settings_row(db).phone == phone


@pytest.mark.parametrize("changes, field", [
    ({"phone": "call us"}, "clinic-phone"),
    ({"phone": "555-01"}, "clinic-phone"),  # 5 digits
    ({"phone": "1" * 21}, "clinic-phone"),
    ({"phone": "604-555-0123; DROP"}, "clinic-phone"),
    ({"phone": "６０４５５５０１２３"}, "clinic-phone"),  # full-width digits
    ({"address": "x" * 301}, "clinic-address"),
    ({"locale": "de"}, "clinic-locale"),
])
def test_bad_input_is_refused_by_its_field_and_what_was_typed_is_kept(client, admin, db,
                                                                      changes, field):
    before = settings_row(db)
    before_values = (before.name, before.phone, before.address, before.locale)
    response = post_settings(client, **changes)
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, field)
    doc = parse(page)
    assert doc.by_id("clinic-name").attrs["value"] == "Kitsilano IMS Clinic"
    if field != "clinic-locale":
        assert doc.by_id(field).attrs["value"] == next(iter(changes.values()))
    row = settings_row(db)
    assert (row.name, row.phone, row.address, row.locale) == before_values
    assert events(db, "settings.changed") == []


def test_the_phone_message_names_the_format(client, admin):
    page = html(post_settings(client, phone="call us"))
    assert "Enter a telephone number like 604-555-0123" in page


def test_settings_need_a_csrf_token(client, admin, db):
    response = client.post("/admin/settings", data={**SETTINGS}, csrf=False)
    assert response.status_code == 400
    assert settings_row(db).phone is None


@pytest.mark.parametrize("make", [make_practitioner, make_patient])
def test_only_admins_change_identity_or_the_logo(client, db, make):
    # An admin sets a logo first, then someone else tries.
    admin = make_admin()
    sign_in(client, admin)
    assert post_settings(client, logo=(png(), "logo.png", "image/png")).status_code == 303
    digest = settings_row(db).logo_digest
    client.post("/auth/logout")
    sign_in(client, make())
    assert post_settings(client, phone="604-555-9999",
                         logo=(jpeg(), "mine.jpg", "image/jpeg")).status_code == 404
    assert client.post("/admin/settings/logo/remove").status_code == 404
    row = settings_row(db)
    assert (row.phone, row.logo_digest) == ("604-555-0123 ext. 12", digest)


# --- the logo -------------------------------------------------------------------------

def test_a_logo_is_stored_small_without_metadata_and_served_by_digest(client, admin, db):
    response = post_settings(client, logo=(png((2000, 1000), pnginfo=_text("Author", "me")),
                                           "logo.png", "image/png"))
    assert response.status_code == 303
    row = settings_row(db)
    assert row.logo_mimetype == "image/png"
    assert row.logo_digest == hashlib.sha256(row.logo).hexdigest()
    stored = Image.open(io.BytesIO(row.logo))
    assert stored.format == "PNG" and stored.size == (512, 256)
    assert "Author" not in stored.info and b"Author" not in row.logo

    served = client.get(logo_url(row))
    assert served.status_code == 200
    assert served.mimetype == "image/png" and served.data == row.logo
    cache = served.headers["Cache-Control"]
    assert "immutable" in cache and "max-age=31536000" in cache and "no-store" not in cache
    page = parse(html(client.get("/admin/")))
    assert any(img.attrs.get("src") == logo_url(row) for img in page.find_all("img"))
    [event] = events(db, "settings.logo_changed")
    assert event.actor_id == admin.id
    assert json.loads(event.detail)["sha256"] == row.logo_digest


def _text(key: str, value: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def test_a_new_logo_replaces_the_old_one_whose_address_is_gone(client, admin, db):
    post_settings(client, logo=(png(), "logo.png", "image/png"))
    old = logo_url(settings_row(db))
    assert client.get(old).status_code == 200

    assert post_settings(client, logo=(jpeg(), "photo.jpg", "image/jpeg")).status_code == 303
    row = settings_row(db)
    assert row.logo_mimetype == "image/jpeg"
    stored = Image.open(io.BytesIO(row.logo))
    assert stored.format == "JPEG" and stored.size == (256, 256)
    assert not stored.getexif()
    assert client.get(old).status_code == 404
    served = client.get(logo_url(row))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert len(events(db, "settings.logo_changed")) == 2

    # Saving without a file keeps the logo.
    assert post_settings(client, name="Renamed Clinic").status_code == 303
    assert settings_row(db).logo_digest == row.logo_digest
    assert len(events(db, "settings.logo_changed")) == 2


def test_the_logo_can_be_removed(client, admin, db):
    post_settings(client, logo=(png(), "logo.png", "image/png"))
    url = logo_url(settings_row(db))
    response = client.post("/admin/settings/logo/remove")
    assert response.status_code == 303
    row = settings_row(db)
    assert (row.logo, row.logo_digest, row.logo_mimetype) == (None, None, None)
    page = html(client.get("/admin/"))
    assert "The logo was removed." in page and "/admin/settings/logo/remove" not in page
    assert client.get(url).status_code == 404
    assert len(events(db, "settings.logo_removed")) == 1
    # Without a CSRF token nothing happens.
    post_settings(client, logo=(png(), "logo.png", "image/png"))
    assert client.post("/admin/settings/logo/remove", csrf=False).status_code == 400
    assert settings_row(db).logo_digest is not None


@pytest.mark.parametrize("upload, message", [
    ((pdf(), "logo.png", "image/png"), "must be a PNG or JPEG image"),
    ((b"\x89PNG\r\n\x1a\n" + pdf(), "logo.png", "image/png"), "not a PNG or JPEG image"),
    ((b"GIF89a" + b"\0" * 64, "logo.gif", "image/gif"), "must be a PNG or JPEG image"),
    ((b"hello", "logo.txt", "text/plain"), "must be a PNG or JPEG image"),
    ((png_bomb(), "bomb.png", "image/png"), "too large"),
    ((noise_png(), "big.png", "image/png"), "at most 512 KB"),
    ((png()[:200], "cut.png", "image/png"), "not a PNG or JPEG image"),
])
def test_hostile_files_are_refused_and_nothing_changes(client, admin, db, upload, message):
    post_settings(client, logo=(png(), "logo.png", "image/png"))
    before = settings_row(db)
    before_values = (before.name, before.logo_digest)
    count = len(events(db, "settings.logo_changed"))

    response = post_settings(client, name="Another Name", logo=upload)
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "clinic-logo")
    assert message in page
    assert parse(page).by_id("clinic-name").attrs["value"] == "Another Name"
    row = settings_row(db)
    assert (row.name, row.logo_digest) == before_values
    assert len(events(db, "settings.logo_changed")) == count
    assert client.get(logo_url(row)).status_code == 200


def test_an_unknown_digest_is_not_found(client, admin):
    assert client.get("/clinic-logo/" + "0" * 64).status_code == 404


# --- the demo clinic --------------------------------------------------------------------

def test_the_demo_clinic_has_a_phone_and_an_address_an_admin_may_change(app, runner, db,
                                                                        tmp_path):
    app.instance_path = str(tmp_path / "instance")  # demo-accounts.txt goes here
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    row = settings_row(db)
    assert row.phone == "604-555-0123"  # 555: a number kept for fiction
    assert row.address == "1234 Example Street, Vancouver, BC V6K 0A1"
    # Run again after an admin set the clinic's own: theirs are kept.
    row.phone, row.address = "250-555-0199", "1 Other Road, Victoria, BC"
    db.session.commit()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    row = settings_row(db)
    assert (row.phone, row.address) == ("250-555-0199", "1 Other Road, Victoria, BC")
