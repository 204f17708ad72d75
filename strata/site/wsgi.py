"""WSGI entry point for gunicorn (the app role)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "strata.site.settings")
application = get_wsgi_application()
