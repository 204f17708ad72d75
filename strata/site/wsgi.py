"""WSGI entry point for gunicorn (the app role): /dav/ goes to WebDAV (strata.dav.app), the rest to Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "strata.site.settings")
django_application = get_wsgi_application()

from strata.dav.app import PREFIX, DavGate  # noqa: E402 - needs Django set up first

dav_application = DavGate()

if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
    # Under gunicorn (preload_app), in the master: shared by every worker it forks.
    from strata.site.warm import warm

    warm()


def application(environ, start_response):
    """Send /dav and everything below it to WebDAV, the rest to Django."""
    path = environ.get("PATH_INFO", "")
    if path == PREFIX or path.startswith(PREFIX + "/"):
        return dav_application(environ, start_response)
    return django_application(environ, start_response)
