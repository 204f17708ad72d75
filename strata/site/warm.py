"""Load, in gunicorn's master before it forks, what each worker would otherwise load by itself on its first
requests: the URL resolvers and every view module behind them, every compiled template, the S3 clients.

With preload_app the workers share the master's memory pages (copy-on-write, and gc.freeze in
gunicorn's pre_fork keeps the collector from copying them); what a worker builds after the fork is its own.
Nothing here opens a connection (database, S3, LDAP): those stay the workers' own, opened lazily.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.template.utils import get_app_template_dirs
from django.urls import get_resolver

from strata.site.page_cache import jinja2

log = logging.getLogger(__name__)


def warm() -> None:
    """Build the URL resolvers, compile every template (both engines), create the S3 clients."""
    _urls(get_resolver())
    engine = engines["django"]
    assert isinstance(engine, DjangoTemplates)  # settings.TEMPLATES: Django's own engine
    dirs = [Path(str(d)) for d in (*engine.engine.dirs, *get_app_template_dirs("templates"))]
    for root in dirs:
        for path in sorted(root.rglob("*.html")):
            name = str(path.relative_to(root))
            try:
                engine.get_template(name)
            except Exception:  # noqa: BLE001 - a template that does not compile alone fails its page, not the start
                log.debug("not precompiled: %s", name)
    # The Jinja2 pages (strata/site/jinja.py): compiled to Python code once, here, not per worker.
    jinja = jinja2().env
    for name in jinja.list_templates(extensions=["jinja"]):
        jinja.get_template(name)
    if settings.CONFIG.enabled("files"):
        from strata.deploy.roles.files import client as s3

        # Clients connect on their first call, in a worker: made here they only hold botocore's models.
        s3.app_client(settings.CONFIG, settings.SECRETS)
        s3.app_client(settings.CONFIG, settings.SECRETS, timeout=2)


def _urls(resolver) -> None:
    """Populate RESOLVER's reverse tables and those of every resolver included under it."""
    resolver.reverse_dict  # noqa: B018 - the property builds the tables (and imports the views)
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            _urls(pattern)
