"""``signature``: the patient signs a consent definition (``consent = "<key>"``) by typing
their name and ticking a box. What is stored is the signature's record (see
portal.intake.consent.answer): ``{"name", "consent_key", "consent_version", "sha256",
"locale"}``; posting the step only hands the typed name to the service, which signs."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import StrictStr, ValidationInfo, field_validator
from wtforms import BooleanField, StringField

from portal.intake.types.base import Question, StepInput
from portal.intake.types.checks import TextCheck, clean_text, field_id, int_in, text_ok
from portal.intake.types.schema import Says

SIGNATURE_NAME_MAX = 200
STORED = {"name", "consent_key", "consent_version", "sha256", "locale"}


class Signature(Question):
    type: ClassVar[str] = "signature"
    template: ClassVar[str] = "intake/types/signature.html"
    elsewhere: ClassVar[dict[str, str]] = {"consent": "consent is for signature questions"}

    consent: Annotated[StrictStr,
                       Says("consent {input!r} is not a consent definition in the folder")]

    @field_validator("consent")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("consents")
        if known is not None and value not in known:
            raise ValueError("not a consent of the folder")
        return value

    def form_fields(self, locale: str, today: date) -> dict[str, Any]:
        name, agree = f"{self.id}-name", f"{self.id}-agree"
        return {
            name: StringField(_l("Type your full name"), name=name, id=field_id(self.id, "name"),
                              filters=[clean_text], render_kw={"autocomplete": "name"},
                              validators=[TextCheck(SIGNATURE_NAME_MAX)]),
            agree: BooleanField(_l("I have read this consent and I agree to IMS treatment."),
                                name=agree, id=field_id(self.id, "agree")),
        }

    def anchor(self) -> str:
        return field_id(self.id, "name")

    def first_field(self, form) -> Any:
        return form[f"{self.id}-name"]

    def form_values(self, value: Any) -> dict[str, Any]:
        return {f"{self.id}-name": value.get("name"), f"{self.id}-agree": True}

    def read(self, form, out: StepInput) -> None:
        """A name and the box ticked: ``out.signature_name`` (the service signs)."""
        name_f, agree_f = form[f"{self.id}-name"], form[f"{self.id}-agree"]
        if name_f.errors:
            out.fail(self, form.locale, name_f.errors[0], name_f.id)
            return
        name, agreed = name_f.data or "", bool(agree_f.data)
        if name and not agreed:
            agree_f.errors = [_("Tick the box to say that you agree.")]
            out.fail(self, form.locale, agree_f.errors[0], agree_f.id)
        elif agreed and not name:
            name_f.errors = [_("Type your full name to sign.")]
            out.fail(self, form.locale, name_f.errors[0], name_f.id)
        elif name and agreed:
            out.signature_name = name

    def required_message(self) -> str:
        return _("Type your full name and tick the box to sign.")

    def is_missing(self, value: Any, signed_versions: dict[str, int] | None) -> bool:
        """Signed, and (when ``signed_versions`` gives the current version of each consent)
        signed on the current version."""
        if signed_versions is None:
            return super().is_missing(value, signed_versions)
        current = signed_versions.get(self.consent)
        return not isinstance(value, dict) or value.get("consent_version") != current

    def value_ok(self, value: Any, today: date | None = None) -> bool:
        return isinstance(value, dict) and set(value) == STORED \
            and text_ok(value["name"], SIGNATURE_NAME_MAX) \
            and value["consent_key"] == self.consent \
            and int_in(value["consent_version"], 1, 1_000_000) \
            and isinstance(value["sha256"], str) and len(value["sha256"]) == 64

    def lines(self, value: Any, locale: str) -> list[str]:
        return [_("Signed by %(name)s (consent version %(version)d)", name=value["name"],
                  version=value["consent_version"])]

    def fhir_answers(self, value: Any, locale: str) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            return [{"valueString": str(value.get("name", ""))}]
        return super().fhir_answers(value, locale)
