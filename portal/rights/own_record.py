"""The patient's own record, as the readable page of "My record" shows it (SPEC 11.1): what
the clinic holds about them, in their language. Built from the same reading as the staff's
printable summary (portal.rights.summary) and the features' own services, with what a
patient reads and a practitioner's summary leaves out: every answer of the intake (with its
corrections), each consent signed, the documents' list and the answered follow-ups.
Practitioners' private notes, red-flag markers and the files themselves are not part of it
(the files are downloaded one by one from "My documents")."""
from __future__ import annotations

from dataclasses import dataclass

from portal.documents import services as documents
from portal.intake import bodymap, display
from portal.intake import consent as consents
from portal.intake import services as intake
from portal.intake.review_views import answer_sections
from portal.models import ConsentSignature, Document, FollowUp, Patient, TreatmentSession
from portal.rights import summary as record_summary
from portal.treatment.after_discharge import answered as answered_follow_ups


@dataclass
class SessionRow:
    session: TreatmentSession
    number: int
    regions: list[str]  # readable names, in the reader's language


@dataclass
class OwnRecord:
    summary: record_summary.Summary
    sections: list[dict]  # the intake's answers by step (portal.intake.review_views)
    signatures: list[ConsentSignature]  # newest first
    documents: list[Document]  # newest first; refused uploads too (the patient saw them)
    sessions: list[SessionRow]  # not cancelled, oldest first
    follow_ups: list[FollowUp]  # answered, oldest first

    @property
    def patient(self) -> Patient:
        return self.summary.patient


def own_record(patient: Patient, locale: str) -> OwnRecord:
    summary = record_summary.summary(patient)
    sections: list[dict] = []
    if summary.response is not None and summary.definition is not None:
        answers = intake.effective_answers(summary.response)
        sections = answer_sections(summary.definition, answers, summary.response)
    sessions = [SessionRow(line.session, line.number,
                           [bodymap.label(code, locale) for code in line.session.regions or []])
                for line in summary.sessions if line.number is not None]
    return OwnRecord(summary=summary, sections=sections,
                     signatures=consents.signatures(patient),
                     documents=documents.patient_documents(patient, for_staff=False),
                     sessions=sessions, follow_ups=answered_follow_ups(patient))


def amendment_lines(locale: str):
    """The intake's template helper for an answer before its correction
    (templates/intake/_answers.html)."""
    return lambda question, value: display.lines(question, value, locale)
