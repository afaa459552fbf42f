"""The intake's FHIR definitions at their canonical URLs (SPEC 5.5): public JSON, for a
system that receives a patient's export to read the Questionnaire its response cites and
the code systems of its codes. They hold the questions and options only, nothing of a
patient.

* ``/fhir/Questionnaire/<key>``: the newest version; ``?version=<n>`` a given one;
* ``/fhir/CodeSystem/<key>``: the questionnaire's answer codes (``?version=`` likewise);
* ``/fhir/CodeSystem/ims-scores``: the portal's score codes.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, request

from portal.i18n import current_locale
from portal.intake import bp, fhir
from portal.intake.definitions import Questionnaire

# The media type of FHIR JSON with the release it follows (https://hl7.org/fhir/R4/http.html,
# "mime-type").
MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"


def _json(resource: dict[str, Any]) -> Response:
    return Response(json.dumps(resource, ensure_ascii=False, indent=2),
                    content_type=MEDIA_TYPE, headers={"Vary": "Accept-Language, Cookie"})


def _definition(key: str) -> Questionnaire:
    asked = request.args.get("version")
    if asked is not None and not (asked.isascii() and asked.isdigit() and len(asked) < 7):
        abort(404)
    definition = fhir.published(key, int(asked) if asked is not None else None)
    if definition is None:
        abort(404)
    return definition


@bp.route("/fhir/Questionnaire/<key>")
def fhir_questionnaire(key: str):
    return _json(fhir.questionnaire(_definition(key), current_locale()))


@bp.route("/fhir/CodeSystem/<key>")
def fhir_code_system(key: str):
    if key == fhir.SCORES:
        if request.args.get("version", "1") != "1":
            abort(404)
        return _json(fhir.scores_code_system(current_locale()))
    return _json(fhir.answers_code_system(_definition(key), current_locale()))
