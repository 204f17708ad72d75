"""Downloads: the app checks and hands out a signed URL on the content host; nginx carries the bytes
(X-Accel-Redirect)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.utils import timezone

from strata.ops import metrics

from ..errors import FilesError, Gone
from ..models import AuditEvent, File
from ..storage import backend, content_disposition, served_as
from .audit import audit

log = logging.getLogger("strata.files")

# A content URL serves one object, with the type and disposition decided when access was checked, for this
# long (long enough to follow a redirect or load a preview; a page shown longer asks again).
CONTENT_SECONDS = 300
CONTENT_SALT = "strata.files.content"


def download_target(actor, f: File, inline: bool = False, address=None, log_event: bool = True) -> str:
    """Check the bytes exist and return the short-lived signed URL on the content host that serves them."""
    _check_stored(actor, f, address, log_event)
    return content_url(f, inline)


def drive_target(actor, f: File, address=None) -> tuple[str, str, str]:
    """Check the bytes exist and return the internal URI, Content-Type and Content-Disposition with which
    nginx serves them to a network-drive (WebDAV) client on the site's own name: WebDAV clients do not
    follow a redirect to another host, so these bytes are always an octet-stream attachment there, under
    the same sandbox CSP as the content host's (the web role's template)."""
    _check_stored(actor, f, address, True)
    content_type = "application/octet-stream"
    uri = backend().accel_redirect(f.key, f.name, content_type, False)
    return uri, content_type, content_disposition(f.name, False)


def _check_stored(actor, f: File, address, log_event: bool) -> None:
    """Raise Gone (and mark F missing) when its bytes are not on the file server; record the download."""
    if backend().size(f.key) is None:
        File.objects.filter(pk=f.pk, missing_since__isnull=True).update(missing_since=timezone.now())
        log.error("file %s (%s) is missing on the file server", f.pk, f.key)
        raise Gone(
            "This file's content is missing from the file server. An administrator has been told; "
            "restore it from a backup."
        )
    if log_event:
        audit(actor, AuditEvent.DOWNLOAD, file=f, address=address)
    metrics.count_download(f.size)


def content_url(f: File, inline: bool = False) -> str:
    """Return a URL on the content host serving F's bytes (inline only for types that cannot script), valid
    for CONTENT_SECONDS; the caller has checked access."""
    content_type, inline = served_as(f.content_type, inline)
    token = signing.dumps(
        {"f": f.pk, "k": f.key, "n": f.name, "t": content_type, "i": inline}, salt=CONTENT_SALT, compress=True
    )
    return f"{settings.STRATA_CONTENT_ORIGIN}/c/{token}"


def preview(f: File) -> tuple[str, str] | None:
    """Return (kind, URL) of F's preview on the file page: image, pdf, text, audio or video from the content
    host; None for a type that is never shown inline, or bytes known to be missing. The caller has checked
    that the person may download F."""
    content_type, inline = served_as(f.content_type, True)
    if not inline or f.missing_since:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    kind = {"application/pdf": "pdf", "text/plain": "text"}.get(base, base.split("/", 1)[0])
    return kind, content_url(f, inline=True)


def content_target(token: str) -> tuple[str, str, str]:
    """Return the internal URI, Content-Type and Content-Disposition a content URL's TOKEN names; raise
    Gone when it expired, FilesError (403) when it was not signed by this site."""
    try:
        spec = signing.loads(token, salt=CONTENT_SALT, max_age=CONTENT_SECONDS)
    except signing.SignatureExpired:
        raise Gone("This download link has expired: download the file again from its page.") from None
    except signing.BadSignature:
        raise FilesError("This download link is not valid.", status=403) from None
    uri = backend().accel_redirect(spec["k"], spec["n"], spec["t"], spec["i"])
    return uri, spec["t"], content_disposition(spec["n"], spec["i"])
