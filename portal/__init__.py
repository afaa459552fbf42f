"""The application factory: a short list of named steps, no I/O."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import ROOT, Config


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"), instance_path=str(ROOT / "instance"))
    load_config(app, config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_proxy_fix(app)
    return app


def load_config(app: Flask, config: type | dict | None) -> None:
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    Config.check(app.config)


def register_extensions(app: Flask) -> None:
    from portal import assets, i18n, security, tasks
    from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
    from portal.session_store import ServerSessionInterface

    # First, so that its hooks run last: compression sees the finished response.
    assets.init_app(app)
    db.init_app(app)
    # The session on the server, the cookie only an id (SPEC 1.4).
    app.session_interface = ServerSessionInterface()
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    login_manager.init_app(app)
    security.init_login(app)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   timezone_selector=_clinic_timezone)
    limiter.init_app(app)
    tasks.init_app(app)


def _clinic_timezone() -> str:
    from portal.clinic_settings import current_settings
    return current_settings().timezone


def register_blueprints(app: Flask) -> None:
    from portal.admin import bp as admin_bp
    from portal.auth import bp as auth_bp
    from portal.clinic import bp as clinic_bp
    from portal.core import bp as core_bp
    from portal.documents import bp as documents_bp
    from portal.followups import bp as followups_bp
    from portal.intake import bp as intake_bp
    from portal.patient import bp as patient_bp
    from portal.rights import bp as rights_bp
    from portal.treatment import bp as treatment_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(patient_bp, url_prefix="/me")
    app.register_blueprint(clinic_bp, url_prefix="/clinic")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(documents_bp)  # /me/documents/, /clinic/..., /documents/<id>/
    # /me/intake/ and /clinic/patients/<id>/intake; loads the questionnaire definitions.
    app.register_blueprint(intake_bp)
    # /clinic/patients/<id>/sessions, /me/sessions/, /me/progress (SPEC 4).
    app.register_blueprint(treatment_bp)
    # /me/record/..., /admin/requests, /admin/incidents, /admin/retention (SPEC 11).
    app.register_blueprint(rights_bp)
    # /follow-up/<token>, /me/follow-ups/... (SPEC 12).
    app.register_blueprint(followups_bp)


def register_errorhandlers(app: Flask) -> None:
    from portal.errors import register_errorhandlers as register
    register(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register
    register(app)


def register_security_headers(app: Flask) -> None:
    from portal.security import security_headers
    app.after_request(security_headers)


def register_template_helpers(app: Flask) -> None:
    from portal.templating import register
    register(app)


def register_proxy_fix(app: Flask) -> None:
    cfg = app.config
    if cfg["PROXY_FIX_X_FOR"] or cfg["PROXY_FIX_X_PROTO"] or cfg["PROXY_FIX_X_HOST"]:
        proxied = ProxyFix(app.wsgi_app, x_for=cfg["PROXY_FIX_X_FOR"],
                           x_proto=cfg["PROXY_FIX_X_PROTO"], x_host=cfg["PROXY_FIX_X_HOST"])
        # Flask's documented way to add WSGI middleware; Flask types wsgi_app as a method.
        app.wsgi_app = proxied  # type: ignore[method-assign]
