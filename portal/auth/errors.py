"""Account refusals and the sentence each one shows next to its form (SPEC 1): the error
type and its messages together, so that every page that calls an account service (sign-in,
invitations from the clinic and the admin pages) shows the same words."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from portal.formats import format_date


class AccountError(Exception):
    """A refusal to show next to the form; ``code`` picks the message."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def _messages() -> dict[str, str]:
    return {
        "invalid": _("That e-mail address and password do not match an account. "
                     "Check them and try again."),
        "locked": _("Too many failed attempts. For your security, sign-in is paused for this "
                    "account. Try again in %(minutes)s minutes, or reset your password."),
        "unconfirmed": _("Please confirm your e-mail address first. We have sent you a new link."),
        "bad_code": _("That code did not work. "
                      "Check your authenticator app and enter the newest code."),
        "exists": _("An account with this e-mail address already exists."),
        "not_allowed": _("You cannot invite this kind of account."),
        "wrong_current": _("Your current password is not correct."),
        "locked_current": _("Too many wrong passwords. For your security, password checks "
                            "and sign-in are paused for this account. Try again in "
                            "%(minutes)s minutes."),
        "mfa_required": _("Staff accounts must keep two-step sign-in on."),
        "closed": _("Registration is not open. Please ask your clinic for an invitation."),
        "self": _("You cannot deactivate your own account."),
        "account_closed": _("This account was closed on %(date)s: you cannot sign in with "
                            "it any more. To use the portal again, contact your clinic."),
    }


def error_text(error: AccountError) -> str:
    message = _messages()[error.code]
    if not error.params:
        return message
    return message % {key: format_date(value, "long") if isinstance(value, date) else value
                      for key, value in error.params.items()}
