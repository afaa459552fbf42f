"""Every route, every kind of visitor (SPEC 1.5, 10).

ROUTES below has one entry per endpoint of ``app.url_map``: a route that is not in the table
fails ``test_every_route_is_in_the_table``, so a new page cannot ship without someone
deciding who may see it. Wrong roles get 404, never 403; visitors are sent to sign in with
``next=``; state-changing requests without a CSRF token are refused with 400.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage, User
from portal.rights import correcting
from portal.rights import requests as requests_register
from tests.conftest import Auth, CSRFClient
from tests.factories import make_admin, make_document, make_patient, make_practitioner
from tests.intake.helpers import make_intake
from tests.treatment.helpers import raise_alert, record

ACTORS = ("visitor", "patient_a", "patient_b", "practitioner", "admin")
# Shorthands usable as keys of Case.expect; a specific actor's key wins over a group.
GROUPS = {
    "all": ACTORS,
    "signed_in": ("patient_a", "patient_b", "practitioner", "admin"),
    "patient": ("patient_a", "patient_b"),
    "staff": ("practitioner", "admin"),
}
GROUP_ORDER = ("all", "signed_in", "patient", "staff")


@dataclass(frozen=True)
class Redirect:
    """A 302/303 to ``path``; ``login=True`` also wants a ``next=`` back to where we were."""
    path: str
    login: bool = False


LOGIN = Redirect("/auth/login", login=True)


def to(path: str) -> Redirect:
    return Redirect(path)


@dataclass
class Case:
    expect: dict
    method: str = "GET"
    values: dict = field(default_factory=dict)  # "@name" refers to a person made below
    data: dict = field(default_factory=dict)
    ends_session: bool = False  # run after everything else for this actor

    def outcome(self, actor: str):
        if actor in self.expect:
            return self.expect[actor]
        for group in reversed(GROUP_ORDER):
            if group in self.expect and actor in GROUPS[group]:
                return self.expect[group]
        raise AssertionError(f"no expected outcome for {actor}")


@dataclass(frozen=True)
class Page:
    """A status with a page that says ``text``."""
    status: int
    text: str


NOT_FOUND = Page(404, "Page not found")
# E-mailed links that do not work say so, with a 404 (it is the same page for every token).
DEAD_LINK = Page(404, "This link no longer works")

_FAVICON = "/static/" + json.loads(
    (Path(__file__).resolve().parent.parent / "static" / "cache_manifest.json").read_text()
)["favicon.svg"]

# endpoint -> cases. GET for every route that answers GET; POST for POST-only routes.
ROUTES: dict[str, list[Case]] = {
    # --- public -------------------------------------------------------------------------
    "core.index": [Case({"visitor": to("/auth/login"), "patient": to("/me/"),
                         "staff": to("/clinic/")})],
    "core.healthz": [Case({"all": 200})],
    # Browsers ask for /favicon.ico: sent (302, the name changes with the file) to the icon's
    # content-hashed name.
    "core.favicon": [Case({"all": to(_FAVICON)})],
    # The clinic's logo, public (sign-in page): a digest that is not the current logo's is gone.
    "core.clinic_logo": [Case({"all": NOT_FOUND}, values={"digest": "0" * 64})],
    # The intake's FHIR definitions at their canonical URLs (SPEC 5.5): questions, no patient.
    "intake.fhir_questionnaire": [Case({"all": 200}, values={"key": "ims_intake"})],
    "intake.fhir_code_system": [Case({"all": 200}, values={"key": "ims-scores"})],
    "core.set_language": [Case({"all": to("/auth/reset")}, method="POST",
                               data={"lang": "en", "next": "/auth/reset"})],
    "auth.login": [Case({"visitor": 200, "patient": to("/me/"), "staff": to("/clinic/")})],
    "auth.reset_request": [Case({"all": 200})],
    "auth.reset_password": [Case({"all": DEAD_LINK}, values={"token": "not-a-real-token"})],
    "auth.accept_invite": [Case({"all": DEAD_LINK}, values={"token": "not-a-real-token"})],
    "auth.confirm_email": [Case({"all": DEAD_LINK}, values={"token": "not-a-real-token"})],
    # Self-registration is off by default (SPEC 1.2): the page does not exist.
    "auth.register": [Case({"all": NOT_FOUND})],
    # Only reachable half-way through a sign-in; anyone else starts again.
    "auth.mfa": [Case({"all": to("/auth/login")})],
    "auth.mfa_setup": [Case({"visitor": to("/auth/login"), "patient": 200,
                             "staff": to("/auth/account")})],
    # --- any signed-in account ----------------------------------------------------------
    "auth.account": [Case({"visitor": LOGIN, "signed_in": 200})],
    "auth.account_password": [Case({"visitor": LOGIN, "signed_in": 422}, method="POST")],
    "auth.account_mfa_disable": [Case({"visitor": LOGIN, "signed_in": 422}, method="POST")],
    # Patients here have no second factor, so there are no codes to renew.
    "auth.account_recovery_codes": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                          "staff": 422}, method="POST")],
    "auth.account_revoke_sessions": [Case({"visitor": LOGIN, "signed_in": to("/auth/account")},
                                          method="POST")],
    "auth.logout": [Case({"all": to("/auth/login")}, method="POST", ends_session=True)],
    # --- patients -----------------------------------------------------------------------
    "patient.home": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    # --- practitioners (admins are practitioners too) -----------------------------------
    "clinic.worklist": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200})],
    # The worklist's self-refresh asks each section (htmx); a browser opening one is sent
    # to the worklist page. An unknown section does not exist.
    "clinic.worklist_section": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": to("/clinic/")},
             values={"section": "red-flags"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"section": "no-such-section"}),
    ],
    "clinic.patients": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200})],
    # Outcomes (SPEC 5.4): the report and its CSV.
    "clinic.outcomes": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200})],
    "clinic.outcomes_csv": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200})],
    "clinic.outcomes_report": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200})],
    # Exports of one patient (SPEC 5.5): patients never, not even their own record.
    "clinic.patient_fhir": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    "clinic.patient_summary_print": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_c"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    "clinic.invite_patient": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422},
                                   method="POST")],
    "clinic.resend_invitation": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": to("/clinic/")},
             method="POST", values={"public_id": "@invited_patient"}),
        # Patient B's own address, tried by patient A (and by B, and by staff: B has joined,
        # so there is no invitation to resend).
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND},
             method="POST", values={"public_id": "@patient_b"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND},
             method="POST", values={"public_id": "no-such-id"}),
    ],
    # --- the patient chart (SPEC 5.3): patient A's record, and an invited patient's -------
    **{endpoint: [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ] for endpoint in ("clinic.chart", "clinic.chart_ratings", "clinic.chart_activity")},
    # No reason chosen: 422 for staff, and nothing changes.
    "clinic.chart_discharge": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    # Nothing ticked: 422 for staff, and nothing is recorded.
    "clinic.chart_consent_discussion": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_c"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    # A is not discharged: back to the chart, which says so.
    "clinic.chart_readmit": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": to("/clinic/patients/@record_a/")},
             method="POST", values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    "clinic.chart_resend_invitation": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND,
              "staff": to("/clinic/patients/@record_invited/")},
             method="POST", values={"patient_id": "@record_invited"}),
        # A has joined: there is no invitation to resend.
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "@record_a"}),
    ],
    # --- admins -------------------------------------------------------------------------
    "admin.home": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
                         "admin": 200})],
    "admin.settings": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
                             "admin": 422}, method="POST")],
    # No logo to remove: nothing happens, back to the page.
    "admin.remove_logo": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                "practitioner": NOT_FOUND, "admin": to("/admin/")},
                               method="POST")],
    "admin.invite_staff": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                 "practitioner": NOT_FOUND, "admin": 422}, method="POST")],
    "admin.resend_staff_invitation": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/admin/")}, method="POST", values={"public_id": "@invited_staff"}),
        # A patient is not staff: the staff pages do not know them.
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND},
             method="POST", values={"public_id": "@patient_a"}),
    ],
    "admin.deactivate_staff": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/admin/")}, method="POST", values={"public_id": "@invited_staff"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND},
             method="POST", values={"public_id": "@patient_b"}),
    ],
    "admin.reactivate_staff": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/admin/")}, method="POST", values={"public_id": "@invited_staff"}),
    ],
    # Undelivered e-mail (SPEC 6.3): "@failed_mail" was given up after its retries; sent
    # again, or already sent again by then, the admin is back on the page either way.
    "admin.resend_mail": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/admin/")}, method="POST", values={"message_id": "@failed_mail"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"message_id": 424242}),
    ],
    "admin.resend_all_mail": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                    "practitioner": NOT_FOUND, "admin": to("/admin/")},
                                   method="POST")],
    # The audit log (SPEC 7.1): search, CSV export of a search, chain verification.
    "admin.audit": [Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
                          "admin": 200})],
    "admin.audit_csv": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                              "practitioner": NOT_FOUND, "admin": 200})],
    "admin.verify_audit": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                 "practitioner": NOT_FOUND, "admin": to("/admin/audit")},
                                method="POST")],
    # The requests register (SPEC 11.2): admins only. "@access_a" is an access request of
    # patient A; empty forms are refused by their fields.
    # The incident register (SPEC 11.2): admins only; an empty post is refused by its
    # fields; an entry that does not exist is not found.
    "admin.incidents_register": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                       "practitioner": NOT_FOUND, "admin": 200})],
    "admin.incidents_csv": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                  "practitioner": NOT_FOUND, "admin": 200})],
    "admin.incident_new": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 200}),
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST"),
    ],
    "admin.incident": [
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "no-such-id"}),
    ],
    # The retention schedule (SPEC 11.2): admins only; nothing ticked is refused.
    "admin.retention": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                              "practitioner": NOT_FOUND, "admin": 200})],
    "admin.approve_disposal": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST"),
    ],
    "admin.confirm_disposal": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST"),
    ],
    "admin.withdraw_disposal_approval": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST"),
    ],
    "admin.requests_register": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                      "practitioner": NOT_FOUND, "admin": 200})],
    "admin.requests_csv": [Case({"visitor": LOGIN, "patient": NOT_FOUND,
                                 "practitioner": NOT_FOUND, "admin": 200})],
    "admin.request_new": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 200}),
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST"),
    ],
    "admin.request_detail": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 200},
             values={"request_id": "@access_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"request_id": "no-such-id"}),
    ],
    "admin.request_provided": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST", values={"request_id": "@access_a"}),
    ],
    "admin.request_extend": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND, "admin": 422},
             method="POST", values={"request_id": "@access_a"}),
    ],
    # --- documents (SPEC 3): patient A's documents; "@record_a" is A's patient record -----
    "documents.mine": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    # An empty upload: the form answers 422 with its errors.
    "documents.upload": [Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND},
                              method="POST")],
    # The line of a file being checked and the clearance notice ask for themselves (htmx);
    # a browser that comes to them is sent to the list.
    "documents.my_line": [
        Case({"visitor": LOGIN, "patient_a": to("/me/documents/"), "patient_b": NOT_FOUND,
              "staff": NOT_FOUND}, values={"public_id": "@doc_a_checking"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "no-such-id"}),
    ],
    "documents.my_clearance": [Case({"visitor": LOGIN, "patient": to("/me/documents/"),
                                     "staff": NOT_FOUND})],
    "documents.withdraw": [
        Case({"visitor": LOGIN, "patient_a": to("/me/documents/"), "patient_b": NOT_FOUND,
              "staff": NOT_FOUND}, method="POST", values={"public_id": "@doc_a_spare"}),
        Case({"visitor": LOGIN, "patient_a": to("/me/documents/"), "patient_b": NOT_FOUND,
              "staff": NOT_FOUND}, method="POST", values={"public_id": "@doc_a_refused"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"public_id": "no-such-id"}),
    ],
    # No file of a document being checked or refused, for anyone; staff never see them.
    "documents.download": [
        Case({"visitor": LOGIN, "patient_a": 200, "patient_b": NOT_FOUND, "staff": 200},
             values={"public_id": "@doc_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "@doc_a_checking"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "@doc_a_refused"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "no-such-id"}),
    ],
    "documents.preview": [
        Case({"visitor": LOGIN, "patient_a": 200, "patient_b": NOT_FOUND, "staff": 200},
             values={"public_id": "@doc_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "@doc_a_checking"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "no-such-id"}),
    ],
    "documents.patient_documents": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    # No reason given: 422 for staff, whatever else.
    "documents.reject": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"public_id": "@doc_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"public_id": "no-such-id"}),
    ],
    "documents.accept": [
        # Staff reach the form; a clearance without its letter's date is refused by it.
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422},
             method="POST", values={"public_id": "@doc_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"public_id": "@doc_a_checking"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"public_id": "no-such-id"}),
    ],
    "documents.remove": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/clinic/patients/@record_a/documents")},
             method="POST", values={"public_id": "@doc_a_removable"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"public_id": "no-such-id"}),
    ],
    # --- intake (SPEC 2): patient A has not started; patient C has sent theirs -----------
    "intake.resume": [Case({"visitor": LOGIN, "patient": to("/me/intake/1"),
                            "staff": NOT_FOUND})],
    "intake.step": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}, values={"step": 1}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"step": 99}),
    ],
    # Posted without the page's revision: the form answers 422 and saves nothing.
    "intake.save": [Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND},
                         method="POST", values={"step": 1})],
    # Not from htmx: back to the step.
    "intake.autosave": [Case({"visitor": LOGIN, "patient": to("/me/intake/1"),
                              "staff": NOT_FOUND}, method="POST", values={"step": 1})],
    "intake.submit": [Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND},
                           method="POST")],
    "intake.summary": [Case({"visitor": LOGIN, "patient": to("/me/intake/"),
                             "staff": NOT_FOUND})],
    "intake.amend": [Case({"visitor": LOGIN, "patient": to("/me/intake/"), "staff": NOT_FOUND},
                          values={"step": 1})],
    "intake.consent": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    # Patients A and B never signed: nothing to withdraw, to the consent page.
    "intake.withdraw_consent": [
        Case({"visitor": LOGIN, "patient": to("/me/intake/consent"), "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": to("/me/intake/consent"), "staff": NOT_FOUND},
             method="POST"),
    ],
    # Closing one's account (SPEC 11.1): the page; a post without password and tick is
    # refused by the fields. The last page is only for the browser that closed an account.
    "rights.close_account": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND}, method="POST"),
    ],
    "rights.account_closed": [Case({"all": to("/auth/login")})],
    # My record: the hub; the page and the bundle ask for the password first (an empty one
    # is refused by its field). There is no patient id to change: each opens one's own.
    "rights.record": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    # Correction requests (SPEC 11.1): the patient's own page (an empty post is refused by
    # its fields); the answer in the chart, to "@correction_a" of patient A, never found
    # under another patient's chart.
    "rights.correction_new": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND}, method="POST"),
    ],
    "rights.correction_answer": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a", "request_id": "@correction_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND},
             values={"patient_id": "@record_c", "request_id": "@correction_a"}),
    ],
    "rights.correction_accept": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_a", "request_id": "@correction_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "@record_c", "request_id": "@correction_a"}),
    ],
    "rights.correction_decline": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_a", "request_id": "@correction_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "@record_c", "request_id": "@correction_a"}),
    ],
    "rights.record_page": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND}, method="POST"),
    ],
    "rights.record_fhir": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND}, method="POST"),
    ],
    # Acknowledging a withdrawal of consent, from the chart: A withdrew nothing.
    # A legal hold (SPEC 11.2): staff place one with a reason (an empty one is refused);
    # only admins lift one (A has none to lift).
    "clinic.legal_hold": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    "clinic.place_legal_hold": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    "clinic.lift_legal_hold": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "practitioner": NOT_FOUND,
              "admin": to("/clinic/patients/@record_a/legal-hold")}, method="POST",
             values={"patient_id": "@record_a"}),
    ],
    # Follow-ups after discharge (SPEC 12.1): an e-mailed link that is not one is dead for
    # everyone; the signed-in pages are the patient's own, and another's id is not found.
    "followups.answer_by_link": [Case({"all": DEAD_LINK}, values={"token": "not-a-real-token"})],
    "followups.decline_by_link": [Case({"all": DEAD_LINK},
                                       values={"token": "not-a-real-token"})],
    "followups.mine": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    "followups.answer_signed_in": [
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"public_id": "no-such-id"}),
    ],
    "followups.decline_signed_in": [
        Case({"visitor": LOGIN, "patient": to("/me/follow-ups"), "staff": NOT_FOUND},
             method="POST"),
    ],
    "followups.accept_again": [
        Case({"visitor": LOGIN, "patient": to("/me/follow-ups"), "staff": NOT_FOUND},
             method="POST"),
    ],
    "rights.acknowledge_withdrawal": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": to("/clinic/patients/@record_a/")},
             method="POST", values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    "intake.staff_view": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_c"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    "intake.mark_reviewed": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND,
              "staff": to("/clinic/patients/@record_c/intake")},
             method="POST", values={"patient_id": "@record_c"}),
        # Nothing sent yet, nothing to review.
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    # --- treatment (SPEC 4): patient A's sessions ("@session_a"; "@rating_a_alert" is a
    # rating of A's that answered yes to the safety question) --------------------------------
    "treatment.patient_sessions": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"patient_id": "no-such-id"}),
    ],
    # An empty form: 422 with its errors for staff.
    "treatment.record_session": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    "treatment.correct_session": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 200},
             values={"session_id": "@session_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"session_id": "no-such-id"}),
    ],
    # No reason given: 422 for staff, and nothing cancelled.
    "treatment.cancel_session": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"session_id": "@session_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"session_id": "no-such-id"}),
    ],
    # Nothing chosen: back to the intake's baseline.
    "treatment.set_baseline": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND,
              "staff": to("/clinic/patients/@record_a/sessions")}, method="POST",
             values={"patient_id": "@record_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    # The safety check of a session (SPEC 4.2): nothing ticked and not "None of these" is
    # sent back to the home page with a message; only the session's own patient.
    "treatment.safety_check": [
        Case({"visitor": LOGIN, "patient_a": to("/me/"), "patient_b": NOT_FOUND,
              "staff": NOT_FOUND}, method="POST", values={"session_id": "@session_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"session_id": "no-such-id"}),
    ],
    # "I have a problem after my session": an empty report is refused (422); patient B has
    # no recent session (422 too, saying so).
    "treatment.report_problem": [
        Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND}),
        Case({"visitor": LOGIN, "patient": 422, "staff": NOT_FOUND}, method="POST"),
    ],
    # Acknowledging a red flag (SPEC 5.1): without the note, 422 and nothing changes.
    "clinic.acknowledge_safety": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"report_id": "@safety_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"report_id": "no-such-id"}),
    ],
    "clinic.review_red_flag_intake": [
        Case({"visitor": LOGIN, "patient": NOT_FOUND, "staff": 422}, method="POST",
             values={"patient_id": "@record_flagged"}),
        # An intake without red flags is reviewed on its own page.
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "@record_c"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, method="POST",
             values={"patient_id": "no-such-id"}),
    ],
    "treatment.my_sessions": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
    "treatment.rate": [
        Case({"visitor": LOGIN, "patient_a": 200, "patient_b": NOT_FOUND, "staff": NOT_FOUND},
             values={"session_id": "@session_a"}),
        # An empty rating: 422 for A; B and staff never see A's session.
        Case({"visitor": LOGIN, "patient_a": 422, "patient_b": NOT_FOUND, "staff": NOT_FOUND},
             method="POST", values={"session_id": "@session_a"}),
        Case({"visitor": LOGIN, "signed_in": NOT_FOUND}, values={"session_id": "no-such-id"}),
    ],
    "treatment.progress": [Case({"visitor": LOGIN, "patient": 200, "staff": NOT_FOUND})],
}


def _routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


@pytest.fixture
def app_config(app_config):
    # Dozens of sign-in-page POSTs per test; the limiter has its own tests.
    app_config["RATELIMIT_ENABLED"] = False
    return app_config


@pytest.fixture
def people(app):
    found = {
        "patient_a": make_patient(name="Patient A"),
        "patient_b": make_patient(name="Patient B"),
        "practitioner": make_practitioner(),
        "admin": make_admin(),
        "invited_patient": make_patient(password=None),
        "invited_staff": make_practitioner(password=None, mfa=False),
    }
    found["record_a"] = found["patient_a"].patient
    found["record_invited"] = found["invited_patient"].patient
    for name in ("doc_a", "doc_a_spare", "doc_a_removable"):
        found[name] = make_document(found["patient_a"])
    found["doc_a_checking"] = make_document(found["patient_a"], status="checking")
    found["doc_a_refused"] = make_document(found["patient_a"], status="refused")
    # A patient (who never signs in here) with a sent intake, for the staff pages.
    found["record_c"] = make_intake(make_patient(name="Patient C")).patient
    found["record_flagged"] = make_intake(make_patient(name="Patient F"),
                                          rf_fever="yes").patient
    # A correction request of patient A's (in general), and an access request of A's.
    found["correction_a"] = correcting.request_correction(
        found["record_a"], found["patient_a"], None, "Access matrix check")
    found["access_a"] = requests_register.enter_request(
        found["admin"], found["record_a"], "access", date.today(), None)
    # Sessions of patient A (not cleared: recorded with an override), the safety check of
    # one answered yes.
    found["session_a"] = record(found["patient_a"], found["practitioner"],
                                override="Access matrix check")
    alert = record(found["patient_a"], found["practitioner"], override="Access matrix check")
    found["safety_a"] = raise_alert(alert)
    found["failed_mail"] = OutboxMessage(kind="invitation", to_addr="lost@example.org",
                                         subject="Invitation", body_text="Hello",
                                         status="failed", attempts=5,
                                         last_error="ConnectionRefusedError")
    db.session.add(found["failed_mail"])
    db.session.commit()
    return found


def _client_for(app, actor: str, people: dict):
    app.test_client_class = CSRFClient
    client = app.test_client()
    if actor != "visitor":
        response = Auth(client).login(people[actor])
        assert response.status_code == 303, f"{actor} could not sign in"
    return client


def _public_id(thing):
    """What the address names ``thing`` by: its public id, or its id when it has none (an
    outbox message, seen by admins only)."""
    return getattr(thing, "public_id", None) or thing.id


def _url(app, endpoint: str, case: Case, people: dict) -> str:
    values = {k: _public_id(people[v[1:]]) if isinstance(v, str) and v.startswith("@") else v
              for k, v in case.values.items()}
    with app.test_request_context():
        return url_for(endpoint, **values)


def _check(response, expected, where: str) -> None:
    if isinstance(expected, Redirect):
        assert response.status_code in (302, 303), \
            f"{where}: wanted a redirect to {expected.path}, got {response.status_code}"
        target = urlsplit(response.location)
        assert target.path == expected.path, f"{where}: redirected to {response.location}"
        if expected.login:
            assert parse_qs(target.query).get("next"), f"{where}: no next= in {response.location}"
        return
    if isinstance(expected, Page):
        assert response.status_code == expected.status, \
            f"{where}: wanted {expected.status}, got {response.status_code}"
        # The portal's own page (SPEC 1.5: the same answer whether or not the record exists).
        assert expected.text in response.get_data(as_text=True), where
        return
    assert response.status_code == expected, \
        f"{where}: wanted {expected}, got {response.status_code}"


def _resolve(expected, people: dict):
    """A redirect to a page of someone made here: "@name" in its path is their public id."""
    if isinstance(expected, Redirect) and "@" in expected.path:
        parts = [people[p[1:]].public_id if p.startswith("@") else p
                 for p in expected.path.split("/")]
        return Redirect("/".join(parts), expected.login)
    return expected


def _table_problems(app) -> list[str]:
    endpoints = {rule.endpoint for rule in _routes(app)}
    problems = [f"{e}: not in ROUTES, add it" for e in sorted(endpoints - ROUTES.keys())]
    problems += [f"{e}: in ROUTES but no longer a route" for e in sorted(ROUTES.keys() - endpoints)]
    for rule in _routes(app):
        if rule.endpoint not in ROUTES:
            continue
        wanted = "GET" if "GET" in rule.methods else "POST"
        if wanted not in {case.method for case in ROUTES[rule.endpoint]}:
            problems.append(f"{rule.endpoint} ({rule.rule}): needs a {wanted} case")
    return problems


def test_every_route_is_in_the_table(app):
    assert _table_problems(app) == []


def test_a_route_missing_from_the_table_is_caught(app):
    app.add_url_rule("/clinic/new-page", "clinic.new_page", lambda: "")
    assert _table_problems(app) == ["clinic.new_page: not in ROUTES, add it"]


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(app, people, actor):
    client = _client_for(app, actor, people)
    cases = [(endpoint, case) for endpoint, endpoint_cases in ROUTES.items()
             for case in endpoint_cases]
    cases.sort(key=lambda item: item[1].ends_session)
    for endpoint, case in cases:
        url = _url(app, endpoint, case, people)
        if case.method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data=case.data)
        _check(response, _resolve(case.outcome(actor), people), f"{actor} {case.method} {url}")


@pytest.mark.parametrize("actor", ["visitor", "patient_a", "admin"])
def test_post_without_csrf_token_is_refused(app, people, actor):
    client = _client_for(app, actor, people)
    checked = 0
    for rule in _routes(app):
        if "POST" not in rule.methods:
            continue
        url = _url(app, rule.endpoint, ROUTES[rule.endpoint][0], people)
        response = client.post(url, data={"lang": "fr_CA", "name": "X", "email": "x@example.org"},
                               csrf=False)
        assert response.status_code == 400, f"{actor} POST {url}: {response.status_code}"
        assert "This form has expired" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 10
    if actor != "visitor":
        # Logout without a token did not sign anyone out.
        home = "/admin/" if actor == "admin" else "/me/"
        assert client.get(home).status_code == 200


def test_invitation_without_csrf_token_creates_nothing(app, people):
    client = _client_for(app, "practitioner", people)
    client.get("/clinic/")
    response = client.post("/clinic/invitations",
                           data={"name": "Mallory", "email": "mallory@example.org"}, csrf=False)
    assert response.status_code == 400
    assert db.session.scalar(select(User).where(User.email == "mallory@example.org")) is None
    # The same request with the token does create the invitation: the check above can fail.
    response = client.post("/clinic/invitations",
                           data={"name": "Mallory", "email": "mallory@example.org"})
    assert response.status_code == 303
    assert db.session.scalar(select(User).where(User.email == "mallory@example.org")) is not None


def test_deactivation_without_csrf_token_changes_nothing(app, people):
    client = _client_for(app, "admin", people)
    target = people["practitioner"]
    client.get("/admin/")
    response = client.post(f"/admin/staff/{target.public_id}/deactivate", csrf=False)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, target.id).active is True
    response = client.post(f"/admin/staff/{target.public_id}/deactivate")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, target.id).active is False
