"""The audit log in plain words, in the reader's language (SPEC 7.1, 8.1).

The log stores codes ("session.gate_overridden", ``{"missing": ["clearance"]}``): they are
stable, searchable and exported as they are. The admin's log and a chart's activity tab show
them as a sentence and as label and value pairs. Every action the code writes must have its
sentence here: tests/test_audit_words.py finds them all in the source and fails on a new one
that has none. A value with no words of its own (a name, a number, a reason typed by someone)
is shown as it was stored.
"""
from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# Where a patient stands (Patient.status), in the words of the patient list, the chart, the
# retention schedule and the audit log alike.
PATIENT_STATUSES = {
    "invited": _l("Invited"),
    "intake_in_progress": _l("Intake in progress"),
    "intake_submitted": _l("Intake submitted"),
    "cleared": _l("Cleared"),
    "in_treatment": _l("In treatment"),
    "discharged": _l("Discharged"),
}

ACTIONS = {
    "account.closed": _l("Account closed by the patient"),
    "activity.viewed": _l("Activity of the record viewed"),
    "audit.exported": _l("Audit log exported"),
    "audit.verified": _l("Audit log checked for tampering"),
    "baseline.cleared": _l("Baseline pain rating cleared"),
    "baseline.set": _l("Baseline pain rating set"),
    "chart.viewed": _l("Patient record viewed"),
    "consent.discussed": _l("Consent discussion recorded"),
    "consent.signed": _l("Consent signed"),
    "consent.withdrawal_acknowledged": _l("Withdrawal of consent acknowledged"),
    "consent.withdrawn": _l("Consent withdrawn"),
    "demo.patients_generated": _l("Demonstration patients generated"),
    "document.accepted": _l("Document accepted"),
    "document.checked": _l("Uploaded document checked"),
    "document.downloaded": _l("Document downloaded"),
    "document.previewed": _l("Document preview viewed"),
    "document.refused": _l("Uploaded document refused by the checks"),
    "document.rejected": _l("Document rejected"),
    "document.removed": _l("Document removed by an administrator"),
    "document.uploaded": _l("Document uploaded"),
    "document.withdrawn": _l("Document withdrawn by the patient"),
    "documents.viewed": _l("Documents viewed"),
    "follow_up.accepted_again": _l("Follow-up questions welcome again"),
    "follow_up.answered": _l("Follow-up questions answered"),
    "follow_up.cancelled": _l("Follow-up questions cancelled"),
    "follow_up.declined": _l("Follow-up questions declined by the patient"),
    "follow_up.reminded": _l("Follow-up reminder sent"),
    "follow_up.scheduled": _l("Follow-up questions planned"),
    "follow_up.sent": _l("Follow-up questions sent"),
    "incident.recorded": _l("Privacy incident recorded in the register"),
    "incident.updated": _l("Privacy incident entry changed"),
    "incidents.exported": _l("Privacy incident register exported"),
    "intake.amended": _l("Intake answers corrected"),
    "intake.reviewed": _l("Intake reviewed"),
    "intake.submitted": _l("Intake sent to the clinic"),
    "intake.viewed": _l("Intake viewed"),
    "invitation.accepted": _l("Invitation accepted"),
    "invitation.resent": _l("Invitation sent again"),
    "invitation.sent": _l("Invitation sent"),
    "login.failed": _l("Sign-in failed"),
    "login.locked": _l("Account paused after failed sign-ins"),
    "login.refused_closed": _l("Sign-in refused: account closed (told so, after the right "
                               "password)"),
    "login.refused_locked": _l("Sign-in refused: account paused"),
    "login.succeeded": _l("Signed in"),
    "logout": _l("Signed out"),
    "mail.resent": _l("Undelivered e-mail sent again"),
    "mfa.disabled": _l("Two-step sign-in turned off"),
    "mfa.enrolled": _l("Two-step sign-in turned on"),
    "mfa.recovery_code_used": _l("Recovery code used to sign in"),
    "mfa.recovery_codes_regenerated": _l("New recovery codes made"),
    "outcomes.exported": _l("Outcomes exported"),
    "outcomes.report_viewed": _l("Outcomes report opened for sharing"),
    "password.changed": _l("Password changed"),
    "password.check_failed": _l("Wrong password typed again while signed in"),
    "password.check_refused_locked": _l("Password not checked: account paused"),
    "password.reset": _l("Password reset"),
    "password.reset_requested": _l("Password reset asked for"),
    "password.reset_requested_closed": _l("Password reset asked for a closed account: told "
                                          "by e-mail that it is closed"),
    "password.reset_requested_unknown": _l("Password reset asked for an unknown address"),
    "patient.discharged": _l("Patient discharged"),
    "patient.exported": _l("Patient record exported"),
    "patient.readmitted": _l("Patient readmitted"),
    "rating.changed": _l("Session rating changed"),
    "rating.submitted": _l("Session rated"),
    "record.fhir_downloaded": _l("Record downloaded by the patient (FHIR)"),
    "record.page_opened": _l("Record opened by the patient"),
    "ratings.viewed": _l("Ratings viewed"),
    "registration.confirmed": _l("Sign-up confirmed"),
    "registration.created": _l("Signed up"),
    "registration.duplicate": _l("Sign-up with an address that has an account"),
    "registration.closed_account": _l("Sign-up with the address of a closed account: told "
                                      "by e-mail that it is closed"),
    "request.access_provided": _l("Access request answered: record provided"),
    "request.correction_accepted": _l("Correction request accepted: record corrected"),
    "request.correction_declined": _l("Correction request declined with a reason"),
    "request.correction_made": _l("Correction of the record asked for by the patient"),
    "request.entered": _l("Request received outside the portal entered in the register"),
    "request.extended": _l("Due date of a request extended"),
    "requests.exported": _l("Requests register exported"),
    "patient.legal_hold_lifted": _l("Legal hold lifted"),
    "patient.legal_hold_placed": _l("Legal hold placed on the record"),
    "record.disposal_approval_withdrawn": _l("Approval of the record's disposal withdrawn"),
    "record.disposal_approved": _l("Disposal of the record approved, for a second "
                                   "administrator to confirm"),
    "record.disposal_cancelled": _l("Disposal of the record cancelled"),
    "record.disposed": _l("Record disposed of at the end of its retention period"),
    "record.listed_for_disposal": _l("Record listed for disposal: retention period ended"),
    "safety.acknowledged": _l("Safety report acknowledged"),
    "safety.reported": _l("Safety report sent by the patient"),
    "session.cancelled": _l("Session cancelled"),
    "session.corrected": _l("Session corrected"),
    "session.gate_overridden": _l("Session recorded despite an unmet condition"),
    "session.recorded": _l("Session recorded"),
    "session.revoked_others": _l("Other sign-ins ended"),
    "sessions.viewed": _l("Sessions viewed"),
    "settings.changed": _l("Clinic settings changed"),
    "settings.logo_changed": _l("Clinic logo changed"),
    "settings.logo_removed": _l("Clinic logo removed"),
    "summary.viewed": _l("Printable summary viewed"),
    "user.created_by_command": _l("Administrator account made from the command line"),
    "user.deactivated": _l("Account deactivated"),
    "user.reactivated": _l("Account reactivated"),
}

KEYS = {
    "action": _l("Action"), "actor": _l("Done by"), "address": _l("Postal address"),
    "alert": _l("Alert"), "bytes": _l("Size in bytes"), "checked": _l("Events checked"),
    "count": _l("Number"), "date_from": _l("From"), "date_to": _l("To"),
    "definition": _l("Questionnaire"), "failures": _l("Failed attempts"),
    "fields": _l("Changed"), "first": _l("First"), "first_bad_id": _l("First altered event"),
    "for": _l("For"), "format": _l("Format"), "from": _l("From"), "kind": _l("Kind"),
    "locale": _l("Language"), "method": _l("How"), "missing": _l("Not met"),
    "name": _l("Name"), "ok": _l("Intact"), "patient": _l("Patient"), "phone": _l("Phone"),
    "reason": _l("Reason"), "remaining": _l("Codes left"), "role": _l("Role"),
    "seed": _l("Random seed"), "self_registration": _l("Self-registration"),
    "sha256": _l("Fingerprint"), "size": _l("Size in bytes"), "status": _l("Status"),
    "step": _l("Step"), "timezone": _l("Time zone"), "to": _l("To"), "type": _l("File type"),
    "version": _l("Version"), "via": _l("For"), "valid_until": _l("Valid until"),
    "letter_date": _l("Date of the letter"), "practitioner": _l("Practitioner"),
    # My record (portal/rights/access.py): the entry of the requests register.
    "request": _l("Request"),
    # A due date extended (portal/rights/requests.py): whether the notice went by e-mail.
    "emailed": _l("Patient told by e-mail"),
    # Closing an account (portal/rights/closure.py).
    "kept_until": _l("Record kept until"), "sessions": _l("Sign-ins ended"),
    "mail_dropped": _l("E-mails taken back"),
    # The privacy incident register. Older events kept what each changed field was before;
    # since then the earlier versions are kept in the register itself (the event says only
    # the version made: "version").
    "real_risk": _l("Real risk of significant harm"),
    "was_discovered_at": _l("Discovered, before"), "was_occurred_at": _l("Happened, before"),
    "was_description": _l("What happened, before"),
    "was_records_affected": _l("Whose records, before"),
    "was_people_affected": _l("People affected, before"),
    "was_real_risk": _l("Real risk of significant harm, before"),
    "was_risk_reasoning": _l("Reasoning on the risk, before"),
    "was_regulator_notified_at": _l("Regulator notified, before"),
    "was_individuals_notified_at": _l("People notified, before"),
    "was_measures": _l("Measures taken, before"),
    "weeks": _l("Weeks after discharge"), "through": _l("Through"),
    # The retention schedule (portal/rights/disposal.py) and its settings.
    "retention_ended_on": _l("Retention period ended on"),
    "approved_by": _l("Approved by"), "confirmation": _l("Confirmed by"),
    "disposal_cancelled": _l("Pending disposal cancelled"),
    "retention_years": _l("Records kept (years after the last visit)"),
    "follow_up_first_weeks": _l("First follow-up (weeks after discharge)"),
    "follow_up_second_weeks": _l("Second follow-up (weeks after discharge)"),
    "filter": _l("Shown"),
}


def _value_words() -> dict[str, Any]:
    """Stored values that are codes, as words (built per call: lazy strings in the reader's
    language)."""
    statuses = {**PATIENT_STATUSES,
                "pending": _l("Waiting for review"), "accepted": _l("Accepted"),
                "rejected": _l("Rejected")}
    return {
        "alert": {True: _l("yes"), False: _l("no")},
        "for": {"password_change": _l("changing the password"),
                "record_page": _l("opening the record"),
                "fhir_bundle": _l("downloading the record"),
                "mfa_disable": _l("turning two-step sign-in off"),
                "recovery_codes": _l("new recovery codes"),
                "consent_withdrawal": _l("withdrawing consent"),
                "account_closure": _l("closing the account"),
                "correction_request": _l("asking for a correction")},
        "kind": {"clearance": _l("Physician's clearance"), "imaging": _l("Imaging report"),
                 "referral": _l("Referral"), "other": _l("Other document"),
                 "check": _l("answer to the safety check"),
                 "problem": _l("problem after a session"),
                 "access": _l("access to the record"), "correction": _l("correction"),
                 "all": _l("every kind")},
        "filter": {"open": _l("open"), "overdue": _l("overdue"), "all": _l("all")},
        "locale": {"en": "English", "fr_CA": "Français"},
        "method": {"password": _l("password"), "totp": _l("authenticator code"),
                   "recovery_code": _l("recovery code"),
                   "totp_enrolment": _l("setting up two-step sign-in"),
                   "invitation": _l("accepting the invitation")},
        "missing": {"clearance": _l("physician's clearance"),
                    "consent": _l("consent to the current version"),
                    "consent_discussion": _l("consent discussion"),
                    "red_flags": _l("red flags reviewed")},
        "fields": {"treated_at": _l("date and time"), "regions": _l("regions"),
                   "nprs_before": _l("pain before needling"), "notes": _l("private notes"),
                   "override_reason": _l("reason to go ahead"),
                   "discovered_at": _l("when discovered"),
                   "occurred_at": _l("when it happened"),
                   "description": _l("what happened"),
                   "records_affected": _l("whose records"),
                   "people_affected": _l("how many people"),
                   "real_risk": _l("real risk of significant harm"),
                   "risk_reasoning": _l("reasoning on the risk"),
                   "regulator_notified_at": _l("regulator notified"),
                   "individuals_notified_at": _l("people notified"),
                   "measures": _l("measures taken")},
        "ok": {True: _l("yes"), False: _l("no")},
        "confirmation": {"typed_count": _l("the count typed by the same administrator"),
                         "second_admin": _l("a second administrator")},
        "disposal_cancelled": {True: _l("yes"), False: _l("no")},
        "real_risk": {True: _l("yes"), False: _l("no")},
        "emailed": {True: _l("yes"),
                    False: _l("no: written notice to be sent another way")},
        "was_real_risk": {True: _l("yes"), False: _l("no")},
        "reason": {"bad_password": _l("wrong password"),
                   "unknown_account": _l("no account with this address"),
                   "bad_second_factor": _l("wrong code"),
                   "completed": _l("Treatment completed"),
                   "patient_request": _l("At the patient's request"),
                   "referred": _l("Referred elsewhere"),
                   "no_contact": _l("No longer in contact"),
                   "moved_away": _l("Moved away"),
                   "deceased": _l("Deceased"),
                   "other": _l("Another reason"),
                   "readmitted": _l("Readmitted"),
                   "too_late": _l("Due too long ago to be sent"),
                   "account_closed": _l("Account closed"),
                   "legal_hold": _l("Legal hold"),
                   "visited": _l("Seen again since the listing")},
        "role": {"patient": _l("patient"), "practitioner": _l("practitioner"),
                 "admin": _l("administrator")},
        "self_registration": {True: _l("on"), False: _l("off")},
        "through": {"link": _l("the link in the e-mail"),
                    "signed_in": _l("the patient's portal")},
        "status": statuses, "from": statuses, "to": statuses,
        "via": {"password_change": _l("changing the password"),
                "record_page": _l("opening the record"),
                "fhir_bundle": _l("downloading the record"),
                "mfa_disable": _l("turning two-step sign-in off"),
                "recovery_codes": _l("new recovery codes"),
                "consent_withdrawal": _l("withdrawing consent"),
                "account_closure": _l("closing the account"),
                "correction_request": _l("asking for a correction")},
    }


def action_label(code: str) -> str:
    """The sentence for an action; an unknown (older) code is shown as it is."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def _value(words: dict[str, Any], key: str, value: Any) -> str:
    if key == "action" and isinstance(value, str):  # an audit search's chosen action
        return action_label(value)
    known = words.get(key, {})
    if isinstance(value, list):
        return _(", ").join(_value(words, key, item) for item in value) if value else "—"
    if value is None:
        return "—"
    # Keys are strings or booleans (an integer 1 must not read as True's "yes").
    if isinstance(value, bool | str) and value in known:
        return str(known[value])
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def detail_items(detail: str | None) -> list[tuple[str, str]]:
    """An event's stored detail (JSON) as (label, value) pairs in the reader's language;
    a label is empty when the detail is not a mapping."""
    if not detail:
        return []
    try:
        data = json.loads(detail)
    except ValueError:
        return [("", detail)]
    if not isinstance(data, dict):
        return [("", str(data))]
    words = _value_words()
    return [(str(KEYS.get(key, key)), _value(words, key, value)) for key, value in data.items()]
