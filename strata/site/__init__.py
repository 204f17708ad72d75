"""The Django site: settings, URLs and WSGI entry point, site-wide templates and static files."""
