"""The audit trail: one row per change or download, written in the same transaction as the change."""

from __future__ import annotations

from ..models import AuditEvent, File


def node_kind(node) -> str:
    """Return "file" or "folder": the keyword a share, link or audit event names NODE by."""
    return "file" if isinstance(node, File) else "folder"


def audit(actor, action: str, *, file=None, folder=None, address=None, **detail) -> None:
    """Record that ACTOR (None for anonymous) did ACTION to FILE or FOLDER from ADDRESS."""
    node = file or folder
    person = getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) is not None
    if not person and getattr(actor, "service", None) is not None:
        detail["service"] = actor.get_username()  # a service account (strata.accounts.principal)
    AuditEvent.objects.create(
        actor=actor if person else None,
        action=action,
        file=file,
        folder=folder,
        name=node.name if node else "",
        address=address,
        detail=detail,
    )
