"""The intake wizard (/me/intake/): its steps. The review step, sending and the sent
intake's summary are in review_views.py, corrections after sending and a new consent in
after_views.py, the practitioner's reading in staff_views.py.

Every step works as a plain form post (SPEC 2.5); htmx adds autosave through its own route,
which answers with the save status only (or, on a stale tab, the form with the newer
answers). Posts that arrive after the sign-in timed out, or with an expired CSRF token, keep
what was typed (services.stash) and give it back after sign-in (SPEC 2.4).
"""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.datastructures import MultiDict
from wtforms import ValidationError

from portal import errors, htmx
from portal.extensions import login_manager
from portal.intake import bodymap, bp, display, forms, services
from portal.intake import consent as consents
from portal.intake import flags as flag_rules
from portal.intake.definitions import TEXT_CAP, Questionnaire, Step, text
from portal.models import IntakeResponse, Patient

STASH_MAX_VALUES = 100
# A token of the patient's own session, however old, proves the form came from their page;
# beyond the stash's own lifetime nothing would be given back anyway.
OWN_TOKEN_MAX_AGE = int(services.STASH_TTL.total_seconds())


def page_locale() -> str:
    return str(get_locale())


def request_client() -> consents.Client:
    return consents.Client(request.remote_addr, request.user_agent.string)


@bp.context_processor
def _template_helpers() -> dict:
    locale = page_locale()
    return {"text": text, "bodymap": bodymap, "anchor": forms.anchor,
            "consent_blocks": display.blocks,
            "amendment_lines": lambda question, value: display.lines(question, value, locale)}


def patient_intake(view):
    """A signed-in patient (passed to the view); others get 404, visitors go to sign in.
    A form posted after the sign-in timed out is kept for its owner first."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            if request.method == "POST":
                _keep_for_signed_out(kwargs.get("step"))
            return login_manager.unauthorized()
        patient = current_user.patient if current_user.role == "patient" else None
        if patient is None:
            abort(404)
        return view(patient, *args, **kwargs)
    return wrapped


# --- keeping what was typed ---------------------------------------------------------------

def _stashable(definition: Questionnaire, step: Step) -> dict[str, list[str]]:
    """The posted fields that belong to ``step``, bounded in size; nothing else."""
    cls = forms.step_form_class(definition, step, page_locale(), services.today())
    names = {f.name for f in cls(formdata=None)}
    names -= {"csrf_token", "revision", "editor", "action"}
    kept = {}
    for name in names:
        values = [v[:TEXT_CAP + 100] for v in request.form.getlist(name)[:STASH_MAX_VALUES]]
        if values:
            kept[name] = values
    return kept


def _stash(patient: Patient, step_no: int | None) -> bool:
    if not step_no:
        return False
    definition = services.definition_for(services.response_for(patient))
    step = definition.step(step_no)
    if step is None or step.kind != "questions":
        return False
    revision = request.form.get("revision", "")
    return services.stash(patient, step_no, _stashable(definition, step),
                          int(revision) if revision.isdigit() and len(revision) < 10 else 0,
                          (request.form.get("editor") or "")[:32] or None)


def _keep_for_signed_out(step_no: int | None) -> None:
    patient = services.patient_by_user_public_id(session.get("expired_user"))
    if patient is not None and _stash(patient, step_no):
        flash(_("What you typed is kept. Sign in again and it will be back in the form."),
              "warning")


def _posted_token() -> str | None:
    """The CSRF token a request carries, where Flask-WTF looks for it."""
    config = current_app.config
    return request.form.get(config["WTF_CSRF_FIELD_NAME"]) or next(
        (request.headers[h] for h in config["WTF_CSRF_HEADERS"] if request.headers.get(h)),
        None)


def _own_expired_token() -> bool:
    """The refused request carries a token made for this very session whose time ran out
    (a tab left open): the request is the patient's own. A missing, forged or other
    browser's token is not, nor a valid token refused for its referrer: another site can
    make the patient's browser post those, so nothing they carry is kept (SPEC 2.4)."""
    posted = _posted_token()
    try:
        validate_csrf(posted, time_limit=OWN_TOKEN_MAX_AGE)
    except ValidationError:
        return False
    try:
        validate_csrf(posted)
    except ValidationError:
        return True  # only its age
    return False


def _own_patient() -> Patient | None:
    if current_user.is_authenticated and current_user.role == "patient":
        return current_user.patient
    return None


@bp.errorhandler(CSRFError)
def _expired_form(error: CSRFError):
    """A step posted with a token that is refused. When the token is the patient's own
    (only expired), what the form carried is kept and shown again with a fresh token; from
    any other request nothing is kept. An autosave gets its status back with the page's
    revision and a fresh token, so the page's script saves the same answers again."""
    step_no: int = (request.view_args or {}).get("step") or 0
    if request.method == "POST" and request.endpoint in ("intake.save", "intake.autosave"):
        patient = _own_patient()
        own = _keep_if_own(patient, step_no)
        if request.endpoint == "intake.autosave" and htmx.wants_fragment():
            form = forms.StepForm(meta={"csrf": False})
            return _save_status(400, step_no, form.posted_revision(), form.posted_editor(),
                                fresh_token=generate_csrf())
        if own and patient is not None and _is_question_step(patient, step_no):
            return _show_step(patient, step_no, status=400, notice="expired")
    return errors.render_error(400, _("This form has expired"), _(
        "For your security, forms expire. Please reload the page and submit again."))


def _keep_if_own(patient: Patient | None, step_no: int) -> bool:
    """Keep what the refused form carried when the request is the patient's own."""
    if not _own_expired_token():
        return False
    if patient is not None:
        _stash(patient, step_no)
    else:
        _keep_for_signed_out(step_no)
    return True


def _is_question_step(patient: Patient, step_no: int) -> bool:
    definition = services.definition_for(services.response_for(patient))
    step = definition.step(step_no) if step_no else None
    return step is not None and step.kind == "questions"


def _save_status(status: int, step_no: int, revision: int | None, editor: str | None,
                 **ctx):
    """The autosave's answer: the save status, carrying the revision the next save sends."""
    ctx = {"expired": False, "saved_at": None, "status_problems": [], "fresh_token": None,
           **ctx}
    return htmx.render("intake/step.html", "intake/_save_status.html", status=status,
                       step_no=step_no, revision=revision, editor=editor, **ctx)


# --- the wizard ---------------------------------------------------------------------------

def question_step(definition: Questionnaire, step_no: int) -> Step:
    step = definition.step(step_no)
    if step is None:
        abort(404)
    return step


def form_class(definition: Questionnaire, step: Step, base=forms.StepForm):
    return forms.step_form_class(definition, step, page_locale(), services.today(), base)


def blank_form(definition, step, answers, revision, editor=None, base=forms.StepForm):
    data = forms.form_data(step, answers)
    data.update(revision=str(revision), editor=editor or forms.new_editor())
    return form_class(definition, step, base)(formdata=None, data=data)


def step_context(patient: Patient, response: IntakeResponse | None,
                  definition: Questionnaire, step: Step, form, **extra) -> dict:
    answers = response.answers if response else {}
    consent = signature = None
    if any(q.type == "signature" for q in step.questions):
        consent = consents.current_consent()
        signature = consents.signature(patient, consent)
    locale = page_locale()
    # What the questions of this step currently hold: posted values when re-drawing a post.
    ctx = {
        "definition": definition, "step": step, "form": form, "response": response,
        "answers": answers, "locale": locale, "text": text, "bodymap": bodymap,
        "anchor": forms.anchor, "consent": consent, "signature": signature,
        "question_advice": flag_rules.question_advice(definition),
        "autosave": consent is None, "problems": [], "notice": None, "typed": {},
        "restored": False,
    }
    ctx.update(extra)
    return ctx


def current_values(form, step: Step) -> dict:
    """The answers a drawn form shows, for advice and follow-ups shown by the server."""
    return {q.id: q.drawn(form) for q in step.questions if q.condition}


def _render_step(status: int = 200, **ctx):
    ctx.setdefault("shown", current_values(ctx["form"], ctx["step"]))
    return htmx.render("intake/step.html", "intake/_step_form.html", status=status, **ctx)


def _show_step(patient: Patient, step_no: int, status: int = 200, notice: str | None = None):
    response = services.response_for(patient)
    definition = services.definition_for(response)
    step = question_step(definition, step_no)
    answers = response.answers if response else {}
    revision = response.revision if response else 0
    kept = services.stashed(patient, step_no)
    if kept is not None:
        # Back after an expired sign-in or form: the typed fields, not yet saved. The form
        # keeps the revision it was typed on, so newer answers elsewhere are not overwritten.
        data = MultiDict([(k, v) for k, values in kept.fields.items() for v in values])
        data["revision"] = str(kept.revision)
        data["editor"] = kept.editor or forms.new_editor()
        form = form_class(definition, step)(formdata=data)
        notice = notice or "restored"
    else:
        form = blank_form(definition, step, answers, revision)
    return _render_step(status, **step_context(patient, response, definition, step, form,
                                                notice=notice, restored=kept is not None))


@bp.route("/me/intake/")
@patient_intake
def resume(patient: Patient):
    """Where the patient left off (SPEC 10): the step they were on, on any device."""
    current = services.state(patient)
    if current.state == "submitted":
        return redirect(url_for("intake.summary"))
    return redirect(url_for("intake.step", step=services.stashed_step(patient) or current.step))


@bp.route("/me/intake/<int:step>")
@patient_intake
def step(patient: Patient, step: int):
    response = services.response_for(patient)
    if response is not None and response.submitted:
        return redirect(url_for("intake.summary"))
    definition = services.definition_for(response)
    if question_step(definition, step).kind == "review":
        from portal.intake.review_views import review_page  # it builds on this module
        return review_page(patient, response, definition)
    return _show_step(patient, step)


def _conflict_context(patient, definition, step, data: forms.StepInput, editor):
    """The newer answers, and what this page had typed where they differ (not saved)."""
    response = services.response_for(patient)
    answers = response.answers if response else {}
    form = blank_form(definition, step, answers, response.revision if response else 0,
                       editor)
    locale = page_locale()
    typed = {}
    for question in step.questions:
        mine = data.values.get(question.id)
        if question.id in data.values and mine != answers.get(question.id):
            typed[question.id] = display.lines(question, mine, locale) or [_("(no answer)")]
    return step_context(patient, response, definition, step, form, notice="conflict",
                         typed=typed)


@bp.route("/me/intake/<int:step>", methods=["POST"])
@patient_intake
def save(patient: Patient, step: int):
    response = services.response_for(patient)
    if response is not None and response.submitted:
        flash(_("Your questionnaire was already sent. You can still correct an answer."),
              "warning")
        return htmx.hx_redirect(url_for("intake.summary"))
    definition = services.definition_for(response)
    step_def = question_step(definition, step)
    if step_def.kind != "questions":
        abort(404)
    form = form_class(definition, step_def)()
    data = forms.read_step(form)
    revision, editor = form.posted_revision(), form.posted_editor() or forms.new_editor()
    if revision is None:
        form.revision.data = str(response.revision if response else 0)
        form.editor.data = editor
        return _render_step(422, **step_context(patient, response, definition, step_def, form,
                                                 notice="reload"))
    action = form.pressed()
    go_to = {"next": step + 1, "back": max(step - 1, 1)}.get(action, step)
    result = services.save_step(patient, definition, step, data, revision=revision,
                                editor=editor, go_to=go_to, enforce_required=action == "next",
                                locale=page_locale(), client=request_client())
    if result.submitted:
        return htmx.hx_redirect(url_for("intake.summary"))
    if result.conflict:
        return _render_step(409, **_conflict_context(patient, definition, step_def, data,
                                                     editor))
    if result.missing:
        forms.add_required_errors(form, result.missing, data)
    if data.errors:
        assert result.response is not None  # saved: the response exists
        form.revision.data = str(result.response.revision)
        form.editor.data = editor
        return _render_step(422, **step_context(patient, result.response, definition,
                                                 step_def, form, problems=data.errors))
    return _saved(definition, result.advice, action, go_to)


def _saved(definition, advice_levels, action: str, go_to: int):
    """After a step is saved: urgent advice first, then where the button said to go."""
    for level in advice_levels:
        advice = definition.advice[level]
        flash(f"{text(advice.title, page_locale())}. {text(advice.text, page_locale())}", "urgent")
    if action == "later":
        flash(_("Your answers are saved. Come back any time to finish."), "success")
        return htmx.hx_redirect(url_for("patient.home"))
    if action == "save":
        flash(_("Your answers are saved."), "success")
    return htmx.hx_redirect(url_for("intake.step", step=go_to))


@bp.route("/me/intake/<int:step>/autosave", methods=["POST"])
@patient_intake
def autosave(patient: Patient, step: int):
    """htmx saves as the patient types (debounced): the answer is the save status, which
    carries the new revision for the next save."""
    response = services.response_for(patient)
    if response is not None and response.submitted:
        return htmx.hx_redirect(url_for("intake.summary"))
    definition = services.definition_for(response)
    step_def = question_step(definition, step)
    if step_def.kind != "questions":
        abort(404)
    form = form_class(definition, step_def)()
    data = forms.read_step(form)
    data.signature_name = None  # signing takes a button, never an autosave
    revision, editor = form.posted_revision(), form.posted_editor()
    if not htmx.wants_fragment():
        # Not from the page's script: nothing to swap, so behave like "save".
        if revision is not None and editor:
            services.save_step(patient, definition, step, data, revision=revision,
                               editor=editor, go_to=step, enforce_required=False,
                               locale=page_locale(), client=request_client())
        return htmx.hx_redirect(url_for("intake.step", step=step))
    if revision is None or editor is None:
        return _save_status(422, step, None, None, expired=True)
    # The page's last word (sent as it is hidden or left) and its retries after a failed
    # save hold the whole form; they may follow a save of theirs whose answer was lost.
    final = request.form.get("final") == "1"
    result = services.save_step(patient, definition, step, data, revision=revision,
                                editor=editor, go_to=step, enforce_required=False,
                                locale=page_locale(), client=request_client(),
                                autosave=not final)
    if result.submitted:
        return htmx.hx_redirect(url_for("intake.summary"))
    if result.conflict:
        response = _render_step(409, **_conflict_context(patient, definition, step_def, data,
                                                         editor))
        htmx.retarget(response, "#intake-form")
        return htmx.reswap(response, "outerHTML")
    assert result.response is not None  # saved: the response exists
    return _save_status(422 if data.errors else 200, step, result.response.revision, editor,
                        status_problems=data.errors, saved_at=result.response.updated_at)
