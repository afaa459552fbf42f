"""What every question type shares (``Question``), and the options of the choice types
(``Choice``).

A question of a definition is an instance of its type's class: the class declares the
settings its TOML may give (a pydantic model: a setting of another type, or a typo, is
refused), and implements each thing the portal does with the question. The defaults here
fit a question answered in one input (a text, a date, a number); the types override what
they do differently:

* the form: ``form_fields`` (the WTForms fields, named after the question's id),
  ``form_values`` (a stored answer as field values), ``read`` (a posted step's fields as the
  answer, or the errors), ``anchor`` (the element a link to the question points at),
  ``template`` (how ``templates/intake/_question.html`` draws it);
* stored answers: ``value_ok`` (could the portal have stored this?), ``is_missing``;
* reading it back: ``lines`` (review, summary, staff view), ``fhir_items``;
* the export's FHIR Questionnaire: ``fhir_type`` and ``fhir_question``;
* scores: ``scores`` (the 0-10 items an answer gives the instruments in
  ``questionnaires/scoring.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, ClassVar

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator
from wtforms.fields.choices import SelectChoice

from portal.intake.types.checks import field_id
from portal.intake.types.schema import (
    Condition,
    LocalText,
    Names,
    Option,
    OptionalText,
    Says,
    problem,
    text,
)

# A setting of one type given to a question of another: what the loader says (filled from
# each type's ``elsewhere``).
ELSEWHERE: dict[str, str] = {}


@dataclass
class ErrorItem:
    target: str   # element id to link to
    label: str    # the question, for the summary
    message: str


@dataclass
class StepInput:
    """What a posted step holds: a value (None: no answer) for each question whose input
    was valid, and the errors of the others (their stored answers are kept)."""
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[ErrorItem] = field(default_factory=list)
    signature_name: str | None = None

    @property
    def invalid(self) -> set[str]:
        return {e.target for e in self.errors}

    def fail(self, question: Question, locale: str, message: str,
             target: str | None = None) -> None:
        self.errors.append(ErrorItem(target or question.anchor(),
                                     text(question.label, locale), str(message)))


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The name in the TOML's ``type``.
    type: ClassVar[str]
    # Drawn inside templates/intake/_question.html, which sets ``q``, ``form`` and ``hint``.
    template: ClassVar[str] = "intake/types/input.html"
    # How a follow-up or a flag may depend on the answer: "equals" (one option, or any_of
    # several), "includes" (an option of a multiple choice), None (it cannot).
    condition: ClassVar[str | None] = None
    # This type's own settings, and what to say when another type is given one.
    elsewhere: ClassVar[dict[str, str]] = {}
    # Added to "question 'x'" in a message (the question is named already).
    where: ClassVar[str] = ""
    # The FHIR R4 Questionnaire item type of its answer
    # (https://hl7.org/fhir/R4/valueset-item-type.html).
    fhir_type: ClassVar[str] = "string"

    id: StrictStr
    required: Annotated[StrictBool, Says("required must be true or false")] = False
    label: Annotated[LocalText, Names("label")]
    help: Annotated[OptionalText, Names("help")] = None
    # The HTML autofill token; "tel" and "bday" also tell the portal which answers are the
    # patient's own phone and date of birth.
    autocomplete: Annotated[StrictStr | None,
                            Says("autocomplete must be an HTML autocomplete token")] = None
    # Set by the loader, never by the file.
    step: int = 0
    show_if: Condition | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for key, message in cls.elsewhere.items():
            ELSEWHERE.setdefault(key, message)

    @classmethod
    def settings(cls) -> set[str]:
        """The keys this type's TOML table may have."""
        return (set(cls.model_fields) - {"step"}) | {"type"}

    @classmethod
    def misplaced(cls, keys: list[str]) -> str:
        return next((message for key, message in ELSEWHERE.items() if key in keys),
                    f"unknown setting(s) {keys} (a typo?)")

    # --- the form -----------------------------------------------------------------------

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        """The unbound WTForms fields of this question, by field name."""
        raise NotImplementedError

    def anchor(self) -> str:
        """The id a link to this question (error summary, review page) points at."""
        return field_id(self.id)

    def first_field(self, form) -> Any:
        """Where "please answer" is shown; None: by the question as a whole."""
        return form[self.id]

    def form_values(self, value: Any) -> dict[str, Any]:
        """A stored answer as the values of the question's fields."""
        return {self.id: value}

    def read(self, form, out: StepInput) -> None:
        """Put the posted answer in ``out.values`` (None: no answer), or its errors in
        ``out.errors`` (the stored answer is then kept)."""
        posted = form[self.id]
        if posted.errors:
            out.fail(self, form.locale, posted.errors[0])
            return
        out.values[self.id] = self.answer(posted.data)

    def answer(self, data: Any) -> Any:
        """A valid field value as the stored answer."""
        return data or None

    def drawn(self, form) -> Any:
        """The answer a drawn form shows (for the follow-ups and advice the server shows);
        only the choices that other questions can depend on need it."""
        return None

    def option_values(self) -> tuple[str, ...]:
        """The values an answer picks from (none: the answer is free)."""
        return ()

    def required_message(self) -> str:
        return _("Please answer this question.")

    # --- stored answers -----------------------------------------------------------------

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        """Whether ``value`` is something the portal could have stored for this question."""
        raise NotImplementedError

    def is_missing(self, value: Any, signed_versions: dict[str, int] | None) -> bool:
        """A required question without (enough of) an answer."""
        return value in (None, "", [], {})

    # --- reading it back ----------------------------------------------------------------

    def lines(self, value: Any, locale: str) -> list[str]:
        """A stored (non-empty) answer as readable lines, in the reader's language."""
        return [str(value)]

    def fhir_items(self, value: Any, locale: str) -> list[dict[str, Any]]:
        """The FHIR ``QuestionnaireResponse.item``(s) of a stored (non-empty) answer."""
        return [{"linkId": self.id, "text": text(self.label, locale),
                 "answer": self.fhir_answers(value, locale)}]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        return [{"valueString": str(value)}]

    def fhir_question(self, locale: str) -> dict[str, Any]:
        """The FHIR ``Questionnaire.item`` that ``fhir_items`` answers (same linkId, text
        and answer types). Codings are given without their system: the export adds it."""
        item: dict[str, Any] = {"linkId": self.id, "text": text(self.label, locale),
                                "type": self.fhir_type}
        if self.required:
            item["required"] = True
        return item

    def scores(self, value: Any) -> list[int]:
        """The 0-10 items this answer gives a score (see questionnaires/scoring.py)."""
        return []


class Choice(Question):
    """Answered by choosing among the definition's options."""
    template: ClassVar[str] = "intake/types/choices.html"
    condition: ClassVar[str | None] = "equals"
    elsewhere: ClassVar[dict[str, str]] = {"options": "options are for choice questions"}
    # Lays the options out (see the choice_group macro).
    choices_class: ClassVar[str] = ""
    fhir_type: ClassVar[str] = "choice"

    options: Annotated[tuple[Option, ...], Field(min_length=2),
                       Says("a choice question needs at least two options")]

    @model_validator(mode="after")
    def _unique_values(self) -> Choice:
        if len(set(self.option_values())) != len(self.options):
            raise problem("option values must be unique")
        return self

    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    def option_label(self, value: str, locale: str) -> str:
        for option in self.options:
            if option.value == value:
                return text(option.label, locale)
        return value

    def choices(self, locale: str) -> list[SelectChoice]:
        return [SelectChoice(o.value, text(o.label, locale)) for o in self.options]

    def anchor(self) -> str:
        return field_id(self.id) + "-0"

    def drawn(self, form) -> Any:
        return form[self.id].data

    def required_message(self) -> str:
        return _("Choose an answer.")

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return value in self.option_values()

    def lines(self, value: Any, locale: str) -> list[str]:
        return [self.option_label(value, locale)]

    def fhir_code(self, value: Any) -> str:
        """An option's code in the export: the question's id and the option's value, as
        two questions may give one value different meanings ("other")."""
        return f"{self.id}.{value}"

    def fhir_coding(self, value: Any, locale: str) -> dict[str, Any]:
        return {"code": self.fhir_code(value), "display": self.option_label(value, locale)}

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        return [{"valueCoding": self.fhir_coding(value, locale)}]

    def fhir_question(self, locale: str) -> dict[str, Any]:
        return {**super().fhir_question(locale),
                "answerOption": [{"valueCoding": self.fhir_coding(v, locale)}
                                 for v in self.option_values()]}
