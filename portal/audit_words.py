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

ACTIONS = {
    "activity.viewed": _l("Activity of the record viewed"),
    "audit.exported": _l("Audit log exported"),
    "audit.verified": _l("Audit log checked for tampering"),
    "baseline.cleared": _l("Baseline pain rating cleared"),
    "baseline.set": _l("Baseline pain rating set"),
    "chart.viewed": _l("Patient record viewed"),
    "consent.discussed": _l("Consent discussion recorded"),
    "consent.signed": _l("Consent signed"),
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
    "intake.amended": _l("Intake answers corrected"),
    "intake.reviewed": _l("Intake reviewed"),
    "intake.submitted": _l("Intake sent to the clinic"),
    "intake.viewed": _l("Intake viewed"),
    "invitation.accepted": _l("Invitation accepted"),
    "invitation.resent": _l("Invitation sent again"),
    "invitation.sent": _l("Invitation sent"),
    "login.failed": _l("Sign-in failed"),
    "login.locked": _l("Account paused after failed sign-ins"),
    "login.refused_locked": _l("Sign-in refused: account paused"),
    "login.succeeded": _l("Signed in"),
    "logout": _l("Signed out"),
    "mail.resent": _l("Undelivered e-mail sent again"),
    "mfa.disabled": _l("Two-step sign-in turned off"),
    "mfa.enrolled": _l("Two-step sign-in turned on"),
    "mfa.recovery_code_used": _l("Recovery code used to sign in"),
    "mfa.recovery_codes_regenerated": _l("New recovery codes made"),
    "outcomes.exported": _l("Outcomes exported"),
    "password.changed": _l("Password changed"),
    "password.check_failed": _l("Wrong password typed again while signed in"),
    "password.check_refused_locked": _l("Password not checked: account paused"),
    "password.reset": _l("Password reset"),
    "password.reset_requested": _l("Password reset asked for"),
    "password.reset_requested_unknown": _l("Password reset asked for an unknown address"),
    "patient.discharged": _l("Patient discharged"),
    "patient.exported": _l("Patient record exported"),
    "patient.readmitted": _l("Patient readmitted"),
    "rating.changed": _l("Session rating changed"),
    "rating.submitted": _l("Session rated"),
    "ratings.viewed": _l("Ratings viewed"),
    "registration.confirmed": _l("Sign-up confirmed"),
    "registration.created": _l("Signed up"),
    "registration.duplicate": _l("Sign-up with an address that has an account"),
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
}


def _value_words() -> dict[str, Any]:
    """Stored values that are codes, as words (built per call: lazy strings in the reader's
    language)."""
    statuses = {"invited": _l("Invited"), "intake_in_progress": _l("Intake in progress"),
                "intake_submitted": _l("Intake submitted"), "cleared": _l("Cleared"),
                "in_treatment": _l("In treatment"), "discharged": _l("Discharged"),
                "pending": _l("Waiting for review"), "accepted": _l("Accepted"),
                "rejected": _l("Rejected")}
    return {
        "alert": {True: _l("yes"), False: _l("no")},
        "for": {"password_change": _l("changing the password"),
                "mfa_disable": _l("turning two-step sign-in off"),
                "recovery_codes": _l("new recovery codes")},
        "kind": {"clearance": _l("Physician's clearance"), "imaging": _l("Imaging report"),
                 "referral": _l("Referral"), "other": _l("Other document"),
                 "check": _l("answer to the safety check"),
                 "problem": _l("problem after a session")},
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
                   "override_reason": _l("reason to go ahead")},
        "ok": {True: _l("yes"), False: _l("no")},
        "reason": {"bad_password": _l("wrong password"),
                   "unknown_account": _l("no account with this address"),
                   "bad_second_factor": _l("wrong code"),
                   "completed": _l("Treatment completed"),
                   "patient_request": _l("At the patient's request"),
                   "referred": _l("Referred elsewhere"),
                   "no_contact": _l("No longer in contact"),
                   "moved_away": _l("Moved away"),
                   "deceased": _l("Deceased"),
                   "other": _l("Another reason")},
        "role": {"patient": _l("patient"), "practitioner": _l("practitioner"),
                 "admin": _l("administrator")},
        "self_registration": {True: _l("on"), False: _l("off")},
        "status": statuses, "from": statuses, "to": statuses,
        "via": {"password_change": _l("changing the password"),
                "mfa_disable": _l("turning two-step sign-in off"),
                "recovery_codes": _l("new recovery codes")},
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
