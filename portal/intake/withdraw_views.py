"""Withdrawing consent (SPEC 2.3 step 6): a patient may withdraw their consent to IMS at any
time, without giving a reason (College of Physiotherapists of Alberta, Consent Guide,
https://www.cpta.ab.ca/for-physiotherapists/resources/guides-and-guidelines/consent-guide/;
CLINICAL.md, "Dry needling / IMS precautions and consent"). The page is the confirmation
step: nothing changes until the patient presses its button. The signature keeps its row,
marked withdrawn; the treatment gate then refuses sessions after that moment until the
patient signs again (a new row, on the consent page) and the practitioner records a new
discussion. The rest of their care goes on."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal import htmx
from portal.auth import signin
from portal.intake import bp
from portal.intake import consent as consents
from portal.intake.definitions import text
from portal.intake.views import page_locale, patient_intake
from portal.models import Patient


class WithdrawConsentForm(FlaskForm):
    reason = TextAreaField(_l("Your reason (optional)"),
                           validators=[Optional(), Length(max=consents.REASON_MAX)],
                           render_kw={"rows": 3})
    # A shared phone is common: the account's password, so that whoever holds a signed-in
    # phone cannot withdraw for the patient (SPEC 11.1).
    password = PasswordField(_l("Your password"),
                             validators=[DataRequired(_l("Enter your password.")),
                                         Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


@bp.route("/me/intake/consent/withdraw", methods=["GET", "POST"])
@patient_intake
def withdraw_consent(patient: Patient):
    current = consents.current_consent()
    row = consents.signature(patient, current)
    if row is None:  # nothing standing to withdraw (never signed, or withdrawn already)
        return redirect(url_for("intake.consent"))
    form = WithdrawConsentForm()
    if request.method == "POST" and form.validate() and \
            signin.check_field(patient.user, form.password, "consent_withdrawal"):
        if consents.withdraw(patient, row, form.reason.data):
            flash(_("Your consent is withdrawn. You will not receive IMS unless you sign "
                    "it again. Your other care at the clinic goes on."), "success")
        return htmx.hx_redirect(url_for("patient.home"))
    return htmx.render("intake/withdraw_consent.html", status=422 if form.errors else 200,
                       form=form, consent=current, signature=row, locale=page_locale(),
                       text=text)
