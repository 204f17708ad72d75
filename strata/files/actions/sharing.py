"""Sharing a file or folder with a person or a group, and what has been shared with someone."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from strata.live.actions import publish
from strata.live.models import Event
from strata.messaging.actions import notify

from .. import access
from ..errors import FilesError
from ..models import AuditEvent, File, Share
from .audit import audit, node_kind


def share(
    user, node, *, username: str = "", group: str = "", permission: str = Share.READ, address=None
) -> Share:
    """Give the person USERNAME or the group GROUP PERMISSION on NODE (again: change the permission)."""
    access.require(user, node, access.SHARE)
    if permission not in (Share.READ, Share.WRITE):
        raise FilesError("Permission must be “read” or “write”.")
    grantee: dict[str, Any] = {}
    if username:
        try:
            grantee["user"] = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise FilesError(f"There is no person called “{username}”.", 404) from None
    elif group:
        try:
            grantee["group"] = Group.objects.get(name=group)
        except Group.DoesNotExist:
            raise FilesError(f"There is no group called “{group}”.", 404) from None
    else:
        raise FilesError("Choose a person or a group to share with.")
    target = {node_kind(node): node}
    with transaction.atomic():  # the share, its audit, mail and live event: all or nothing
        s, _ = Share.objects.update_or_create(
            **target, **grantee, defaults={"permission": permission, "created_by": user}
        )
        audit(
            user,
            AuditEvent.SHARE,
            **target,
            address=address,
            permission=permission,
            grantee=username or group,
        )
        if username:
            _notify_share(user, grantee["user"], node)
        _publish_share(user, grantee, node)
    return s


def _publish_share(sharer, grantee: dict, node) -> None:
    """Tell the open pages of the person (or the group's members) that something was shared with them."""
    if "user" in grantee:
        people = [grantee["user"].pk]
    else:
        members = grantee["group"].user_set.filter(is_active=True).exclude(pk=sharer.pk)
        people = list(members.values_list("pk", flat=True)[:10000])
    path = reverse("files:file" if isinstance(node, File) else "files:folder", args=[node.id])
    who = sharer.get_full_name() or sharer.username
    where = f" (group {grantee['group'].name})" if "group" in grantee else ""
    payload = {
        "from": who,
        "name": node.name,
        "url": path,
        "text": f"{who} shared “{node.name}” with you{where}",
    }
    publish(people, Event.SHARE, lambda _uid: payload)


def _notify_share(sharer, person, node) -> None:
    """Tell PERSON about the share by email (the messaging app decides whether mail is on and wanted)."""
    path = reverse("files:file" if isinstance(node, File) else "files:folder", args=[node.id])
    url = settings.CONFIG.url().rstrip("/") + path
    who = sharer.get_full_name() or sharer.username
    notify(
        person, f"{who} shared “{node.name}” with you", f"{who} shared “{node.name}” with you in Strata.", url
    )


def unshare(user, share_obj: Share, address=None) -> None:
    """Withdraw a share."""
    node = share_obj.file or share_obj.folder
    assert node is not None  # a share names a file or a folder (database constraint)
    access.require(user, node, access.UNSHARE)
    share_obj.delete()
    audit(user, AuditEvent.UNSHARE, **{node_kind(node): node}, address=address)


def shared_with(user):
    """Return the live shares given to USER or to one of their groups, newest first (none of something
    in the trash or below a folder in the trash)."""
    dead = access.trashed_folders()
    return (
        Share.objects.filter(access.grantee(user))
        .exclude(folder_id__in=dead)
        .exclude(file__folder_id__in=dead)
        .filter(
            Q(file__trashed_at__isnull=True, file__isnull=False)
            | Q(folder__trashed_at__isnull=True, folder__isnull=False)
        )
        .select_related("file", "folder", "created_by")
        .order_by("-created_at")
    )
