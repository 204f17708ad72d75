"""Public links: a token that lets anyone holding it download a file or browse a folder."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F
from django.utils import timezone

from ..errors import FilesError, Gone
from ..models import AuditEvent, File, PublicLink
from .audit import audit, node_kind


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
    if link is None or link.revoked or node is None or node.trashed_at is not None:
        raise FilesError("This link does not exist.", 404)
    if link.expires_at and link.expires_at <= timezone.now():
        raise Gone("This link has expired.")
    if link.max_downloads is not None and link.downloads >= link.max_downloads:
        raise Gone("This link has reached its download limit.")
    return link


def check_link_password(link: PublicLink, password: str) -> bool:
    """Return whether PASSWORD opens LINK (always, for a link without one)."""
    return not link.password or (bool(password) and check_password(password, link.password))


def count_link_download(link: PublicLink, file: File, address=None) -> None:
    """Count one download atomically; raise Gone when the limit was reached meanwhile."""
    q = PublicLink.objects.filter(pk=link.pk)
    if link.max_downloads is not None:
        q = q.filter(downloads__lt=F("max_downloads"))
    if not q.update(downloads=F("downloads") + 1):
        raise Gone("This link has reached its download limit.")
    audit(None, AuditEvent.LINK_ACCESS, file=file, address=address, link=link.id)


def revoke_link(user, link: PublicLink) -> None:
    """Make LINK stop working."""
    link.revoked = True
    link.save(update_fields=["revoked"])
