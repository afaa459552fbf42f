"""Alembic environment for Flask-Migrate: the app's engine and models, batch mode so that
ALTER TABLE works on SQLite too."""
from __future__ import annotations

import logging

from alembic import context
from flask import current_app

log = logging.getLogger("alembic.env")
config = context.config


def _metadata():
    return current_app.extensions["migrate"].db.metadata


def _options() -> dict:
    options = dict(current_app.extensions["migrate"].configure_args)
    options.setdefault("compare_type", True)
    options.setdefault("render_as_batch", True)
    return options


def run_offline() -> None:
    url = current_app.extensions["migrate"].db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=_metadata(), literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    def skip_empty(ctx, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            log.info("No changes in schema detected.")

    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=_metadata(),
                          process_revision_directives=skip_empty, **_options())
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
