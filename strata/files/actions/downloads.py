"""Downloads: the app checks, nginx carries the bytes (X-Accel-Redirect)."""

from __future__ import annotations

import logging

from django.utils import timezone

from ..errors import Gone
from ..models import AuditEvent, File
from ..storage import backend, served_as
from .audit import audit

log = logging.getLogger("strata.files")


def download_target(actor, f: File, inline: bool = False, address=None, log_event: bool = True) -> str:
    """Check the bytes exist and return the internal URI nginx serves them from."""
    store = backend()
    if store.size(f.key) is None:
        File.objects.filter(pk=f.pk, missing_since__isnull=True).update(missing_since=timezone.now())
        log.error("file %s (%s) is missing on the file server", f.pk, f.key)
        raise Gone(
            "This file's content is missing from the file server. An administrator has been told; "
            "restore it from a backup."
        )
    if log_event:
        audit(actor, AuditEvent.DOWNLOAD, file=f, address=address)
    content_type, inline = served_as(f.content_type, inline)
    return store.accel_redirect(f.key, f.name, content_type, inline)
