"""A patient's record read from the features' own services, for the printable pages: the
staff's summary (SPEC 5.5, portal.clinic.chart.record_summary, which adds the patient's
status in the clinic's words) and the patient's own record (SPEC 11.1, portal.rights.record).
Nothing here decides anything."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import get_locale

from portal import clock, outcomes
from portal.documents import services as documents
from portal.intake import consent as consents
from portal.intake import services as intake
from portal.intake.definitions import Questionnaire, text
from portal.models import ConsentSignature, IntakeResponse, Patient, TreatmentSession
from portal.treatment import services as treatment


@dataclass
class FlagLine:
    kind: str  # "red_flag", "precaution" or "note"
    label: str


@dataclass
class SessionLine:
    session: TreatmentSession
    number: int | None  # None: cancelled


@dataclass
class Summary:
    patient: Patient
    printed_at: datetime
    response: IntakeResponse | None
    definition: Questionnaire | None
    scores: dict[str, Any]
    flags: list[FlagLine]
    born: date | None
    age: int | None
    phone: str | None
    signature: ConsentSignature | None
    consent_current: bool
    # Both parts of informed consent now (SPEC 4.1): the standing signature and its discussion.
    consent: consents.State
    clearance: documents.ClearanceState
    sessions: list[SessionLine]
    progress: treatment.Progress

    @property
    def nprs(self) -> outcomes.NprsChange:
        return self.progress.nprs


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def summary(patient: Patient, cls: type[Summary] = Summary) -> Summary:
    """The record's summary as a ``cls`` (a Summary, or a subclass that adds to it)."""
    locale = str(get_locale())
    response = intake.submitted_response(patient)
    definition = intake.definition_for(response) if response is not None else None
    answers = intake.effective_answers(response) if response is not None else {}
    flags: list[FlagLine] = []
    born = phone = None
    if response is not None and definition is not None:
        for stored in intake.effective_flags(response):
            flag = definition.flag(stored["code"])
            if flag is not None:
                flags.append(FlagLine(flag.kind, text(flag.label, locale)))
        for question in definition.questions.values():
            value = answers.get(question.id)
            if question.autocomplete == "bday" and isinstance(value, str):
                try:
                    born = date.fromisoformat(value)
                except ValueError:
                    born = None
            elif question.autocomplete == "tel" and value:
                phone = str(value)
    sessions = treatment.sessions_for(patient)
    numbered = treatment.numbers(sessions)
    return cls(
        patient=patient, printed_at=clock.now(), response=response, definition=definition,
        scores=intake.effective_scores(response) if response is not None else {},
        flags=flags, born=born, age=_age(born, intake.today()) if born else None, phone=phone,
        signature=consents.latest_signature(patient),
        consent_current=consents.has_current_consent(patient),
        consent=consents.state(patient),
        clearance=documents.clearance_state(patient, for_staff=True),
        sessions=[SessionLine(s, numbered.get(s.id)) for s in sessions],
        progress=treatment.progress(patient, sessions))
