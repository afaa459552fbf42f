"""Valid HTML (SPEC 8.2): the Nu HTML Checker finds no error on any full page of the portal,
signed out, as a patient at every stage, as a practitioner and as an admin, in English and
French. The checker is the ``vnu-jar`` npm package, run once on Java for all the pages (its
start is slow); warnings are allowed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pages import LANGUAGES, Page, make_clinic, pages, sign_in_client, use_language

VNU = (Path(__file__).resolve().parent.parent
       / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar")


def fetch(client, page: Page):
    if page.data is None:
        return client.get(page.path, follow_redirects=True)
    return client.post(page.path, data=page.data, csrf=page.csrf, follow_redirects=True)


def check(files: list[Path]) -> list[dict]:
    """The checker's messages for ``files``."""
    result = subprocess.run(["java", "-jar", str(VNU), "--format", "json", "--stdout",
                             *map(str, files)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.stdout, f"the checker did not answer: {result.stderr[-2000:]}"
    return json.loads(result.stdout)["messages"]


def describe(message: dict) -> str:
    where = Path(message.get("url", "?")).stem
    extract = " ".join(message.get("extract", "").split())[:160]
    return f"{where} line {message.get('lastLine', '?')}: {message['message']}\n    {extract}"


def test_every_page_is_valid_html(app, tmp_path):
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("Java is needed on CI for the Nu HTML Checker (make java)")
        pytest.skip("Java is not installed (make test installs default-jre-headless)")
    if not VNU.exists():
        pytest.skip("the Nu HTML Checker is not installed (npm ci installs vnu-jar)")
    clinic = make_clinic(app)
    clients = {role: sign_in_client(app, person) for role, person in clinic.people.items()}
    files: list[Path] = []
    wrong: list[str] = []
    for language in LANGUAGES:
        use_language(language, clients["visitor"])
        for role, role_pages in pages(clinic).items():
            for page in role_pages:
                response = fetch(clients[role], page)
                name = f"{language}-{role}-{page.name}"
                if response.status_code != page.status or response.mimetype != "text/html":
                    wrong.append(f"{name}: {response.status_code} {response.mimetype} "
                                 f"({page.path})")
                    continue
                path = tmp_path / f"{name}.html"
                path.write_bytes(response.get_data())
                files.append(path)
    assert not wrong, "pages not as expected:\n" + "\n".join(wrong)

    messages = check(files)
    errors = [m for m in messages if m.get("type") in ("error", "non-document-error")]
    warnings = [m for m in messages if m.get("subType") == "warning"]
    for message in warnings:
        print("warning:", describe(message))
    assert not errors, (f"{len(errors)} HTML errors in {len(files)} pages:\n"
                        + "\n".join(map(describe, errors)))
