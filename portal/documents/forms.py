from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import DateField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import plausible_date

# What the file chooser offers; the server decides by content whatever the device sends.
ACCEPT = ("application/pdf,image/jpeg,image/png,image/heic,image/heif,"
          ".pdf,.jpg,.jpeg,.png,.heic,.heif")


def kind_labels() -> dict[str, str]:
    return {"clearance": _l("Physician's clearance"), "imaging": _l("Imaging report"),
            "referral": _l("Referral"), "other": _l("Other document")}


class UploadForm(FlaskForm):
    kind = SelectField(_l("What are you uploading?"),
                       choices=[SelectChoice(k, v) for k, v in kind_labels().items()],
                       default="clearance")
    files = MultipleFileField(_l("Choose files"),
                              render_kw={"accept": ACCEPT, "multiple": True,
                                         "class": "file-input", "data-upload-files": ""})
    # On a phone this opens the camera (capture); the photo is checked like any file.
    photo = FileField(_l("Or take a photo of the letter"),
                      render_kw={"accept": "image/*", "capture": "environment",
                                 "class": "file-input", "data-upload-files": ""},
                      id="photo")

    def uploads(self) -> list:
        """The files chosen in either field; an empty file input sends a nameless part."""
        chosen = [f for f in (self.files.data or []) if f and f.filename]
        if self.photo.data and self.photo.data.filename:
            chosen.append(self.photo.data)
        return chosen


class AcceptForm(FlaskForm):
    # Asked for clearances only (the service refuses a clearance without it): the clearance
    # is valid from the letter's date (SPEC 3.3).
    letter_date = DateField(_l("Date of the physician's letter"),
                            validators=[Optional(), plausible_date],
                            render_kw={"autocomplete": "off"})
    valid_until = DateField(_l("Valid until (optional)"), validators=[Optional(), plausible_date],
                            render_kw={"autocomplete": "off"})


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason the patient will see"),
                           validators=[DataRequired(_l("Tell the patient why, so they can "
                                                       "send the right document.")),
                                       Length(max=1000)],
                           render_kw={"rows": 3})


def accept_form(doc, submitted: bool = False) -> AcceptForm:
    """Prefixed with the document's id: a page listing several documents has one accept and
    one reject form each, and every field id must be unique."""
    kwargs = {} if submitted else {"formdata": None}
    return AcceptForm(prefix=f"accept-{doc.public_id}-", **kwargs)


def reject_form(doc, submitted: bool = False) -> RejectForm:
    kwargs = {} if submitted else {"formdata": None}
    return RejectForm(prefix=f"reject-{doc.public_id}-", **kwargs)
