"""The front door, the language switcher and the health check."""
from __future__ import annotations

from flask import abort, jsonify, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import htmx, i18n, security
from portal.auth import services as auth_services
from portal.core import bp
from portal.extensions import csrf, db, limiter
from portal.forms import EmptyForm
from portal.models import User
from portal.security import me


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(security.home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/lang", methods=["POST"])
def set_language():
    """Language switcher: remembered in the session, and on the account when signed in."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    # Exactly one of the codes the switcher offers; loose matching is for Accept-Language.
    chosen = request.form.get("lang", "")
    if chosen not in i18n.supported():
        abort(400)
    session["lang"] = chosen
    if current_user.is_authenticated:
        auth_services.set_locale(me(), chosen)
    return htmx.hx_redirect(security.safe_next(request.form.get("next")) or url_for("core.index"))


@bp.route("/healthz")
@limiter.exempt
@csrf.exempt
def healthz():
    """Liveness and database check; no authentication and no data."""
    try:
        # A query on a real table: an unmigrated database is not healthy.
        db.session.execute(select(User.id).limit(1))
    except Exception:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/favicon.ico")
@limiter.exempt
def favicon():
    """Browsers and crawlers ask for /favicon.ico whatever the page says: the portal's icon
    under its hashed name (pages link it directly)."""
    from portal.assets import static_digest
    return redirect(static_digest.static_url_for("static", filename="favicon.svg"))


@bp.route("/clinic-logo/<digest>")
@limiter.exempt
def clinic_logo(digest: str):
    """The clinic's logo (admin settings), named by its content digest so that browsers keep
    it for a year; an old digest is gone (404), the pages name the new one."""
    from flask import Response

    from portal.assets import ONE_YEAR
    from portal.clinic_settings import current_settings

    settings = current_settings()
    if not settings.logo or settings.logo_digest != digest:
        abort(404)
    response = Response(settings.logo, mimetype=settings.logo_mimetype or "image/png")
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
