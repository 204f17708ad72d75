"""The audit trail: one row per change or download, written in the same transaction as the change."""

from __future__ import annotations

from ..models import AuditEvent, File


def node_kind(node) -> str:
    """Return "file" or "folder": the keyword a share, link or audit event names NODE by."""
    return "file" if isinstance(node, File) else "folder"


def audit(actor, action: str, *, file=None, folder=None, address=None, **detail) -> None:
    """Record that ACTOR (None for anonymous) did ACTION to FILE or FOLDER from ADDRESS."""
    node = file or folder
    AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        file=file,
        folder=folder,
        name=node.name if node else "",
        address=address,
        detail=detail,
    )
