"""Streamed responses (the CSV exports, a document's file).

A production server (gunicorn) iterates a streamed body after the view has returned and
Flask has torn the request down: its database session is closed and removed by then.
``flask.stream_with_context`` pushes the request's contexts again around the generator, so
``db.session`` works there (a new session, closed again after the last chunk), but what the
request cached on ``g`` is still the torn-down request's: the signed-in user and the
clinic's settings are ORM rows detached from any session, and expired by the commit that
audited the export, so reading one of their attributes raises DetachedInstanceError and the
download stops after the lines already sent. Flask's test client runs the generator inside
the test's own context and never shows it: tests/test_streamed_downloads.py reads every
download from a real gunicorn.

So a generator given to ``response`` reads plain values: rows of a ``select`` of columns,
never ORM objects of the request, never ``current_user``. The language and the time zone
(which Flask-Babel would look up from the user and the settings) are settled here, before
the response starts, so that formatting in the generator finds them cached.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import AnyStr

from flask import Response, stream_with_context
from flask_babel import get_locale, get_timezone


def response(chunks: Iterable[AnyStr], **kwargs) -> Response:
    """A streamed response of ``chunks``; Response's own keyword arguments follow."""
    get_locale()
    get_timezone()
    return Response(stream_with_context(iter(chunks)), **kwargs)
