"""Turn a database outage into 503 Service Unavailable with Retry-After, and every other error into 500.

Django converts an exception raised anywhere in a request (a view, a middleware, the session load) into a
call of the 500 handler, inside the `except` block: the handler looks at the exception in flight. The page
it answers touches no dependency: no session, no user, no query (the database is what is missing).
"""

from __future__ import annotations

import sys

import psycopg
from django.db import utils as db_utils
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

# Seconds a client is asked to wait: about the time PostgreSQL takes to restart and the pool to reconnect.
RETRY_AFTER = 5
_OUTAGE = (
    db_utils.OperationalError,
    db_utils.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def is_database_outage(exc: BaseException | None) -> bool:
    """Return True when EXC, or an exception it was raised from, says the database cannot be reached."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, _OUTAGE):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer 503 with Retry-After while the database is unreachable, Django's 500 page otherwise."""
    if not is_database_outage(sys.exc_info()[1]):
        return defaults.server_error(request)
    response: HttpResponse
    message = "The workspace cannot reach its database right now. Please try again in a few seconds."
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": message}, status=503)  # the API's error shape
    else:
        html = render_to_string("ops/unavailable.html", {"message": message, "retry_after": RETRY_AFTER})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response
