"""Every user-facing string has a French (Canada) translation with the same placeholders."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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


# --- register: CLINICAL.md, "Wording in French (fr-CA), as Québec clinicians write it" ----

# Forms that section tells us to avoid, each with the reason.
AVOIDED_FRENCH = {
    "que vous pouvez imaginer": "worst pain: « la pire douleur imaginable »",
    "amélioration importante": "a 30% change: « amélioration cliniquement significative »",
    "Ne s'applique pas": "a calque: « Ne me concerne pas »",
    "sans essayer": "weight loss: « sans le vouloir »",
    "Vraiment beaucoup": "PGIC extremes: « très nettement aggravé / amélioré »",
    "Engourdissement en selle": "staff label: « anesthésie en selle »",
    "puncture sèche": "the regulated term: « puncture physiothérapique avec aiguilles sèches "
                      "(PPAS) »",
}
# « évanoui » alone describes only a man; « anticoagulant » alone leaves out the
# antiplatelets (clopidogrel, daily aspirin) the question lists.
AVOIDED_PATTERNS = {
    re.compile(r"évanoui(?!\(e\)|ssement)"): "both genders: « évanoui(e) »",
    re.compile(r"anticoagulant(?! ou antiplaquettaire)"):
        "blood thinners: « un médicament qui éclaircit le sang (anticoagulant ou "
        "antiplaquettaire) »",
}


def _avoided_forms(text: str) -> list[str]:
    found = [f"{phrase!r} ({why})" for phrase, why in AVOIDED_FRENCH.items()
             if phrase.lower() in text.lower()]
    found += [f"{pattern.pattern!r} ({why})" for pattern, why in AVOIDED_PATTERNS.items()
              if pattern.search(text)]
    return found


def _french_texts(node) -> list[str]:
    """Every French text of a questionnaire or consent file, however deeply nested."""
    if isinstance(node, dict):
        texts = [node["fr_CA"]] if isinstance(node.get("fr_CA"), str) else []
        return texts + [t for value in node.values() for t in _french_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _french_texts(item)]
    return []


def test_french_catalogue_avoids_the_forms_clinical_md_rules_out():
    """CLINICAL.md, "Wording in French (fr-CA), as Québec clinicians write it": none of the
    forms it rules out is left in a French translation."""
    with PO.open("rb") as fh:
        catalogue = read_po(fh)
    wrong = {}
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text and (found := _avoided_forms(text)):
                wrong[text] = found
    assert wrong == {}


def test_newest_questionnaire_and_consent_avoid_the_forms_clinical_md_rules_out():
    """CLINICAL.md, "Wording in French (fr-CA), as Québec clinicians write it": the French
    of the questionnaire and consent a new patient gets (the newest version of each) uses
    none of the forms it rules out. Older versions stay as published: answers and
    signatures point at them."""
    from portal.intake.definitions import FOLDER, load_folder

    registry = load_folder(FOLDER)
    newest = {"ims_intake": registry.questionnaire("ims_intake").version,
              "ims_consent": registry.consent("ims_consent").version}
    wrong = {}
    for key, version in newest.items():
        data = tomllib.loads((FOLDER / f"{key}_v{version}.toml").read_text(encoding="utf-8"))
        for text in _french_texts(data):
            if found := _avoided_forms(text):
                wrong[f"{key} v{version}: {text[:70]}"] = found
    assert wrong == {}
