"""What to watch for at the point of care (SPEC 4.1, 5.3): the intake's red flags with
their review state and its IMS precautions with the patient's own words, for the chart
header and the record-session form, and its notes for the practitioner (age over 50, a
tumour risk factor of the AHCPR table). The flags and their details are the questionnaire's
(CLINICAL.md "Red flags", from the AHCPR table, and "Dry needling / IMS precautions":
record an anticoagulant's name and dose). A read, never a decision."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import get_locale

from portal.intake import bp, display, responses
from portal.intake.definitions import text
from portal.models import IntakeResponse, Patient


@dataclass
class Alert:
    label: str
    words: list[str]  # the patient's answers to the flag's detail questions


@dataclass
class Alerts:
    red_flags: list[Alert] = field(default_factory=list)
    precautions: list[Alert] = field(default_factory=list)
    notes: list[Alert] = field(default_factory=list)
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.red_flags or self.precautions or self.notes)


def for_response(response: IntakeResponse | None) -> Alerts:
    """The submitted ``response``'s flags (amendments applied); none before submission."""
    out = Alerts()
    if response is None or not response.submitted:
        return out
    locale = str(get_locale())
    definition = responses.definition_for(response)
    answers = responses.effective_answers(response)
    for stored in responses.effective_flags(response):
        flag = definition.flag(stored["code"])
        if flag is None:
            continue
        words = [line for qid in flag.details
                 for line in display.lines(definition.questions[qid], answers.get(qid), locale)]
        alert = Alert(text(flag.label, locale), words)
        {"red_flag": out.red_flags, "precaution": out.precautions,
         "note": out.notes}[flag.kind].append(alert)
    if out.red_flags and response.reviewed_at is not None:
        out.reviewed_at = response.reviewed_at
        out.reviewed_by = response.reviewed_by.name if response.reviewed_by else "?"
    return out


@bp.app_template_global("intake_alerts")
def for_patient(patient: Patient) -> Alerts:
    """For templates drawn without the chart header's data (the record-session form)."""
    return for_response(responses.submitted_response(patient))
