"""Public links: a token that lets anyone holding it download a file or browse a folder."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import access
from ..errors import FilesError, Gone
from ..models import AuditEvent, File, LinkPasswordTry, PublicLink
from .audit import audit, node_kind
from .downloads import download_target

MIN_PASSWORD = 8  # characters of a link's password
MAX_PASSWORD = 1024  # a hash of a longer one costs more than it protects
# Wrong passwords allowed per link and per address in a sliding window; then 429 until the window moves.
PASSWORD_TRIES = 10
PASSWORD_WINDOW = dt.timedelta(hours=1)


def create_link(
    user,
    node,
    *,
    expires_in_days: int | None = None,
    password: str = "",
    max_downloads: int | None = None,
    address=None,
) -> PublicLink:
    """Create a public link to NODE, optionally expiring, password-protected or limited in downloads."""
    access.require(user, node, access.CREATE_LINK)
    if password and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise FilesError(
            f"A link's password needs at least {MIN_PASSWORD} characters (and at most {MAX_PASSWORD})."
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise FilesError("Expiry must be between 1 and 3650 days.")
    if max_downloads is not None and not 1 <= max_downloads <= 1_000_000:
        raise FilesError("The download limit must be between 1 and 1,000,000.")
    link = PublicLink.objects.create(
        token=secrets.token_urlsafe(24),
        **{node_kind(node): node},
        created_by=user,
        expires_at=timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
        password=make_password(password) if password else "",
        max_downloads=max_downloads,
    )
    audit(user, AuditEvent.LINK_CREATE, **{node_kind(node): node}, address=address, link=link.id)
    return link


def get_link(token: str) -> PublicLink:
    """Return the live link for TOKEN; raise 404 for unknown, Gone (410) for expired or used up."""
    link = (
        PublicLink.objects.select_related("file", "folder").filter(token=token).first()
        if isinstance(token, str) and len(token) < 64
        else None
    )
    node = (link.file or link.folder) if link is not None else None
    if link is None or link.revoked or node is None:
        raise FilesError("This link does not exist.", 404)
    if access.hidden(node):
        raise Gone("What this link pointed to has been moved to the trash; the link no longer works.")
    if link.expires_at and link.expires_at <= timezone.now():
        raise Gone("This link has expired.")
    if link.max_downloads is not None and link.downloads >= link.max_downloads:
        raise Gone("This link has reached its download limit.")
    return link


def check_link_password(link: PublicLink, password: str, address=None) -> bool:
    """Return whether PASSWORD opens LINK (always, for a link without one). Raise 429 once ADDRESS has
    tried PASSWORD_TRIES wrong ones on LINK within PASSWORD_WINDOW, before any hash is computed."""
    if not link.password:
        return True
    if not password:
        return False  # nothing tried (the form shown): costs no hash, counts no try
    since = timezone.now() - PASSWORD_WINDOW
    with transaction.atomic():
        # The link's row lock makes "count, then record" one step for concurrent tries.
        list(PublicLink.objects.select_for_update().filter(pk=link.pk).values_list("pk"))
        LinkPasswordTry.objects.filter(link=link, at__lt=since).delete()
        if (
            LinkPasswordTry.objects.filter(link=link, address=address, at__gte=since).count()
            >= PASSWORD_TRIES
        ):
            raise FilesError(
                "Too many wrong passwords for this link from your address. Try again in an hour.", 429
            )
        # Recorded before hashing, so tries in flight count too; removed again when the password is right.
        attempt = LinkPasswordTry.objects.create(link=link, address=address)
    if check_password(password, link.password):
        attempt.delete()
        return True
    return False


def count_link_download(link: PublicLink, file: File, address=None) -> None:
    """Count one download atomically; raise Gone when the limit was reached meanwhile."""
    q = PublicLink.objects.filter(pk=link.pk)
    if link.max_downloads is not None:
        q = q.filter(downloads__lt=F("max_downloads"))
    if not q.update(downloads=F("downloads") + 1):
        raise Gone("This link has reached its download limit.")
    audit(None, AuditEvent.LINK_ACCESS, file=file, address=address, link=link.id)


def serve_link_file(link: PublicLink, file: File, *, head: bool = False, address=None) -> str:
    """Return the content host's URL of FILE's bytes for a visitor of LINK, counting one download; a HEAD
    request (HEAD) counts nothing: it carries no bytes."""
    url = download_target(None, file, address=address, log_event=False)
    if not head:
        count_link_download(link, file, address=address)
    return url


def revoke_link(user, link: PublicLink) -> None:
    """Make LINK stop working."""
    node = link.file or link.folder
    if node is not None:
        access.require(user, node, access.CREATE_LINK)
    link.revoked = True
    link.save(update_fields=["revoked"])
