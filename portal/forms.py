"""Form pieces shared by every feature."""
from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError
from wtforms.widgets import TextInput

from portal import passwords
from portal.clinic_settings import current_settings

# The largest id or cursor value the database's INTEGER holds: anything beyond is not one of
# ours (and PostgreSQL would refuse to compare it).
MAX_DB_INT = 2**31 - 1

# Dates outside these are typing mistakes (and the far ends of the calendar cannot be turned
# into UTC instants).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def db_int(value: str | None) -> int | None:
    """A non-negative integer from the address that the database can hold, or None."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_DB_INT else None


def plausible_date(_form, field) -> None:
    if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Enter a date between %(first)s and %(last)s.",
                                 first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))


class ReadableValue:
    """A field mixin: an unreadable value gets our own words (``unreadable``), in the
    reader's language, instead of WTForms' English."""
    unreadable = _l("This value could not be read.")

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)  # type: ignore[misc]
        except ValueError as exc:
            raise ValueError(str(self.unreadable)) from exc


class WholeNumberField(ReadableValue, IntegerField):
    """An integer drawn as text (give it ``inputmode="numeric"`` for a numeric keypad): a
    value that is not a number ("ten", "1.5") comes back as typed, with our own words (a
    number input would hold an invalid value and send nothing)."""
    widget = TextInput()
    unreadable = _l("Enter a whole number, in digits.")


class EmptyForm(FlaskForm):
    """For button-only POSTs: nothing but the CSRF token."""


def email_field(label=None, **kwargs) -> StringField:
    return StringField(label or _l("E-mail address"),
                       validators=[DataRequired(_l("Enter your e-mail address.")),
                                   Length(max=254),
                                   Email(_l("Enter an e-mail address like name@example.com."),
                                         check_deliverability=False)],
                       filters=[lambda v: v.strip().lower() if v else v],
                       render_kw={"autocomplete": "email", "type": "email",
                                  "spellcheck": "false", "autocapitalize": "none"},
                       **kwargs)


# zxcvbn's feedback is in English only: each text of its feedback (zxcvbn/feedback.py of the
# pinned zxcvbn 4.5.0) that we show has our own wording here, translated. A warning not in
# the table gets GUESSABLE; a suggestion not in it is left out (some, such as longer
# keyboard patterns, are advice we would not give).
_COMMON_WARNING = _l("It is one of the most used passwords, or close to one.")
_KEYBOARD_WARNING = _l("Keys next to each other on the keyboard are among the first "
                       "guesses.")
_REPEAT_WARNING = _l("Repeated letters or words are guessed almost as fast as one.")
_DATE_WARNING = _l("Years and dates, above all those linked to you, are easy to guess.")
_NAME_WARNING = _l("First names and surnames are easy to guess.")
PASSWORD_WARNINGS = {
    "This is a top-10 common password.": _COMMON_WARNING,
    "This is a top-100 common password.": _COMMON_WARNING,
    "This is a very common password.": _COMMON_WARNING,
    "This is similar to a commonly used password.": _COMMON_WARNING,
    "Straight rows of keys are easy to guess.": _KEYBOARD_WARNING,
    "Short keyboard patterns are easy to guess.": _KEYBOARD_WARNING,
    'Repeats like "aaa" are easy to guess.': _REPEAT_WARNING,
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        _REPEAT_WARNING,
    'Sequences like "abc" or "6543" are easy to guess.':
        _l("Runs such as abc or 6543 are among the first guesses."),
    "Recent years are easy to guess.": _DATE_WARNING,
    "Dates are often easy to guess.": _DATE_WARNING,
    "A word by itself is easy to guess.": _l("One word on its own is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _NAME_WARNING,
    "Common names and surnames are easy to guess.": _NAME_WARNING,
    passwords.PERSONAL: _l("It is built on your name, your e-mail address or the "
                           "clinic's name."),
}
PASSWORD_SUGGESTIONS = {
    "Add another word or two. Uncommon words are better.":
        _l("Add a word or two more, unusual ones if you can."),
    "Capitalization doesn't help very much.": _l("A capital letter at the start adds little."),
    "All-uppercase is almost as easy to guess as all-lowercase.":
        _l("All capitals are nearly as easy to guess as none."),
    "Reversed words aren't much harder to guess.":
        _l("Words spelled backwards are hardly harder to guess."),
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        _l("Swapping letters for look-alike symbols (@ for a, 0 for o) adds little."),
}
GUESSABLE = _l("This password is too easy to guess.")


class NewPasswordCheck:
    """12+ characters, not the demo's, not common, not easy to guess (SPEC 1.3), with the
    reason next to the field. The person's name and address count as easy to guess: from
    the form's ``person`` (the account it is for) or its own name and email fields, with
    the clinic's name."""

    MESSAGES = {
        "too_short": _l("Use at least %(n)d characters. "
                        "A short sentence you will remember works well.",
                        n=passwords.MIN_LENGTH),
        "too_long": _l("Use at most %(n)d characters.", n=passwords.MAX_LENGTH),
        "demo": _l("This is the demo's password, printed in the instructions for anyone to "
                   "read. Please choose another."),
        "published": _l("This password is a well-known published example, so it is among "
                        "the first guesses. Please choose another."),
        "common": _l("This password is too common and easy to guess. Please choose another."),
    }

    def __call__(self, form, field):
        weakness = passwords.assess(field.data or "", _personal_words(form))
        if weakness is None:
            return
        if weakness.reason != "guessable":
            raise ValidationError(self.MESSAGES[weakness.reason])
        parts = [GUESSABLE, PASSWORD_WARNINGS.get(weakness.warning)]
        parts += [PASSWORD_SUGGESTIONS.get(text) for text in weakness.suggestions]
        raise ValidationError(" ".join(str(part) for part in parts if part))


def _personal_words(form) -> list[str]:
    person = getattr(form, "person", None)
    words = [person.name, person.email] if person is not None else []
    words += [form[name].data for name in ("name", "email")
              if name in form and isinstance(form[name].data, str)]
    return [*words, current_settings().name]


def new_password_field(label=None) -> PasswordField:
    return PasswordField(label or _l("New password"),
                         validators=[DataRequired(_l("Enter a password.")), NewPasswordCheck()],
                         render_kw={"autocomplete": "new-password"})


def read_get_form(form: FlaskForm, fields: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """A search or filter form sent by GET (bookmarkable, works without JavaScript): the
    query arguments it was given, to repeat in links, and whether they are valid. No
    arguments is the plain page, valid without a check."""
    args = {name: request.args[name] for name in fields if request.args.get(name)}
    return args, not args or form.validate()
