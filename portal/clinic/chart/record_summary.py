"""The printable summary of a patient's record (SPEC 5.5): what a practitioner hands to a
physician or files on paper, on one page. Read from the features' own services; nothing
here decides anything."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import get_locale

from portal import audit, clock, outcomes
from portal.clinic.patients.services import STATUS_LABELS
from portal.documents import services as documents
from portal.extensions import db
from portal.intake import consent as consents
from portal.intake import services as intake
from portal.intake.definitions import Questionnaire, text
from portal.models import ConsentSignature, IntakeResponse, Patient, TreatmentSession, User
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
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.patient.status, self.patient.status))

    @property
    def nprs(self) -> outcomes.NprsChange:
        return self.progress.nprs


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def summary(patient: Patient) -> Summary:
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
    return Summary(
        patient=patient, printed_at=clock.now(), response=response, definition=definition,
        scores=intake.effective_scores(response) if response is not None else {},
        flags=flags, born=born, age=_age(born, intake.today()) if born else None, phone=phone,
        signature=consents.latest_signature(patient),
        consent_current=consents.has_current_consent(patient),
        consent=consents.state(patient),
        clearance=documents.clearance_state(patient, for_staff=True),
        sessions=[SessionLine(s, numbered.get(s.id)) for s in sessions],
        progress=treatment.progress(patient, sessions))


def record_view(viewer: User, patient: Patient) -> None:
    """A printed summary is a view of the record (SPEC 7.1)."""
    audit.write("summary.viewed", patient=patient, actor=viewer)
    db.session.commit()
