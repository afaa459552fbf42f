"""Every user-facing string has a French (Canada) translation with the same placeholders."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "portal" / "translations" / "fr_CA" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _extract(tmp_path: Path):
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-k", "_l",
                    "--ignore-dirs", ".* __pycache__ node_modules", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as fh:
        return read_po(fh)


def test_every_string_is_translated(tmp_path):
    template = _extract(tmp_path)
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    ids = [m.id for m in template if m.id]
    assert len(ids) > 150  # the extraction really found the portal's strings
    missing = [i for i in ids if i not in catalogue or not catalogue[i].string
               or catalogue[i].fuzzy]
    assert missing == [], f"untranslated: {missing[:10]} (run `make messages` and translate)"


def test_placeholders_survive_translation():
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    for message in catalogue:
        if not message.id or not message.string:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(target)), source


def test_french_page(client):
    page = client.get("/auth/login", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    html = page.get_data(as_text=True)
    assert 'lang="fr-CA"' in html
    assert "Mot de passe" in html and "Password" not in html
