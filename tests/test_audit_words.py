"""The audit log in plain words (portal.audit_words): every action the code writes has a
sentence in both languages, so a new action cannot reach the admin's log or a chart's activity
tab as a bare code; details read as label and value; the database and the CSV keep the codes."""
from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import pytest
from flask_babel import force_locale

from portal import audit, audit_words
from portal.extensions import db as _db
from tests.factories import make_admin, make_patient

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def _constants(node: ast.AST | None) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)} if node is not None else set()


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _is_audit_write(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "write"
            and isinstance(func.value, ast.Name) and func.value.id == "audit")


def _argument(call: ast.Call, function: ast.FunctionDef, name: str) -> ast.AST | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    names = [a.arg for a in function.args.args]
    index = names.index(name)
    return call.args[index] if index < len(call.args) else None


def written_actions() -> set[str]:
    """Every action code the portal can write: the string given to audit.write, or the
    strings a variable given to it is assigned, or the strings the callers of a helper pass
    to its ``action`` parameter."""
    trees = {path: ast.parse(path.read_text()) for path in PORTAL.rglob("*.py")}
    functions: list[ast.FunctionDef] = []
    calls: list[ast.Call] = []
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.append(node)
            elif isinstance(node, ast.Call):
                calls.append(node)
    codes: set[str] = set()
    for function in functions:
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and _is_audit_write(node)):
                continue
            action = node.args[0] if node.args else _argument(node, function, "action")
            if not isinstance(action, ast.Name):
                codes |= _constants(action)
                continue
            params = [a.arg for a in function.args.args]
            if action.id in params:
                for call in calls:
                    if _called_name(call) == function.name:
                        codes |= _constants(_argument(call, function, action.id))
            for assign in ast.walk(function):
                if isinstance(assign, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == action.id for t in assign.targets):
                    codes |= _constants(assign.value)
    return codes


def test_the_scan_finds_actions_written_every_way():
    codes = written_actions()
    assert "session.gate_overridden" in codes  # a literal
    assert {"invitation.sent", "invitation.resent"} <= codes  # a variable
    assert {"rating.submitted", "rating.changed"} <= codes  # a conditional
    assert "chart.viewed" in codes  # a helper's parameter
    assert len(codes) > 50


def test_every_action_written_has_plain_words():
    missing = sorted(code for code in written_actions() if code not in audit_words.ACTIONS)
    assert not missing, f"audit actions without plain words in portal.audit_words: {missing}"


@pytest.mark.parametrize("locale", ["en", "fr_CA"])
def test_every_label_is_a_sentence_in_both_languages(app, locale):
    with app.test_request_context(), force_locale(locale):
        for code in audit_words.ACTIONS:
            label = audit_words.action_label(code)
            assert label and label != code and "." not in label.rstrip("."), (code, label)


def _event(action, patient=None, actor=None, detail=None):
    event = audit.write(action, patient=patient, actor=actor, detail=detail)
    _db.session.commit()
    return event


@pytest.mark.parametrize(("locale", "said", "reason"), [
    ("en", "Session recorded despite an unmet condition", "Not met:"),
    ("fr_CA", "Séance enregistrée malgré une condition non remplie", "Non rempli :"),
])
def test_the_log_and_the_activity_tab_speak_plainly(auth, client, db, locale, said, reason):
    admin = make_admin(locale=locale)
    patient = make_patient()
    _event("session.gate_overridden", patient=patient.patient, actor=admin,
           detail={"missing": ["clearance"], "reason": "Clearance seen on paper"})
    auth.login(admin)
    for url in ("/admin/audit", f"/clinic/patients/{patient.patient.public_id}/activity"):
        page = client.get(url).get_data(as_text=True).replace("\u00a0", " ")
        assert said in page, url
        assert reason in page, url
        assert "Clearance seen on paper" in page
        assert "gate_overridden" not in page.replace('value="session.gate_overridden"', "")
        assert '["clearance"]' not in page and "missing:" not in page
    csv_text = client.get("/admin/audit.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    row = next(r for r in rows if r["action"] == "session.gate_overridden")
    assert row["action_words"] == said
    assert json.loads(row["detail"])["missing"] == ["clearance"]


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", [("Action", "Session recorded despite an unmet condition"), ("Intact", "yes"),
            ("Number", "1"), ("Not met", "physician's clearance, red flags reviewed"),
            ("Role", "patient"), ("Valid until", "2027-06-30"), ("odd_key", "kept")]),
    ("fr_CA", [("Action", "Séance enregistrée malgré une condition non remplie"),
               ("Intact", "oui"), ("Nombre", "1"),
               ("Non rempli", "autorisation médicale du médecin, signaux d'alarme revus"),
               ("Rôle", "patient"), ("Valide jusqu'au", "2027-06-30"), ("odd_key", "kept")]),
])
def test_details_read_as_labels_and_values(app, locale, expected):
    detail = json.dumps({"action": "session.gate_overridden", "ok": True, "count": 1,
                         "missing": ["clearance", "red_flags"], "role": "patient",
                         "valid_until": "2027-06-30", "odd_key": "kept"})
    with app.test_request_context(), force_locale(locale):
        assert audit_words.detail_items(detail) == expected
        assert audit_words.detail_items("not json") == [("", "not json")]
        assert audit_words.action_label("an.old_code") == "an.old_code"
