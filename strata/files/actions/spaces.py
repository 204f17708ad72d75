"""Spaces (a person's own, one per group) and the quota of bytes each person may store."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .. import access
from ..errors import FilesError, QuotaExceeded
from ..limits import default_quota_bytes
from ..models import File, Folder, Quota, Space, Upload, Usage

# --- spaces --------------------------------------------------------------------------------------------


def personal_space(user) -> Space:
    space, _ = Space.objects.get_or_create(kind=Space.PERSONAL, owner=user)
    return space


def spaces_for(user) -> list[Space]:
    """Return the person's own space first, then one per group they belong to (a constant number of
    queries: group spaces are made in one go the first time they are needed)."""
    return [personal_space(user), *group_spaces(Group.objects.filter(user=user))]


def group_spaces(groups) -> list[Space]:
    """Return the space of each of GROUPS (a queryset), by group name, making missing ones."""
    groups = list(groups.order_by("name"))
    spaces = {
        s.group_id: s
        for s in Space.objects.filter(kind=Space.GROUP, group__in=groups).select_related("group")
    }
    missing = [g for g in groups if g.id not in spaces]
    if missing:
        Space.objects.bulk_create([Space(kind=Space.GROUP, group=g) for g in missing], ignore_conflicts=True)
        spaces = {
            s.group_id: s
            for s in Space.objects.filter(kind=Space.GROUP, group__in=groups).select_related("group")
        }
    return [spaces[g.id] for g in groups]


def nav_spaces(user) -> list[Space]:
    """Return the spaces for the navigation bar in one query: own first, then groups' by name
    (spaces_for creates missing ones; this only reads)."""
    rows = list(
        Space.objects.filter(Q(owner=user) | Q(group__user=user))
        .select_related("group")
        .order_by("kind", "group__name")
        .distinct()
    )
    return sorted(rows, key=lambda s: (s.kind != Space.PERSONAL, s.group.name if s.group else ""))


def check_target(user, space: Space, folder: Folder | None) -> None:
    """Raise unless USER may write into FOLDER (or the root of SPACE when FOLDER is None)."""
    if folder is not None:
        if folder.space_id != space.id:
            raise FilesError("That folder is in another space.")
        access.get_folder(user, folder.id, access.UPLOAD)
    elif access.space_role(user, space) != access.WRITE:
        raise FilesError("No such space.", 404)


# --- quota -----------------------------------------------------------------------------------------------


def quota_status(user) -> tuple[int, int]:
    """Return (limit, used) bytes in one query (usage from its counter, plus uploads in progress)."""
    me = OuterRef("pk")
    pending = Upload.objects.filter(user=me).values("user").annotate(n=Sum("size")).values("n")[:1]
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            limit=Subquery(Quota.objects.filter(user=me).values("limit_bytes")[:1]),
            stored=Coalesce(Subquery(Usage.objects.filter(user=me).values("bytes")[:1]), Value(0)),
            pending=Coalesce(Subquery(pending), Value(0)),
        )
        .values("limit", "stored", "pending")
        .get()
    )
    limit = row["limit"] if row["limit"] is not None else default_quota_bytes()
    return limit, row["stored"] + row["pending"]


def quota_bytes(user) -> int:
    """Return how many bytes USER may store (their own quota, else the site's default)."""
    try:
        return user.file_quota.limit_bytes
    except Quota.DoesNotExist:
        return default_quota_bytes()


def used_bytes(user) -> int:
    """Return the bytes counted against USER: files they uploaded (trash included) and uploads in progress."""
    stored = Usage.objects.filter(user=user).values_list("bytes", flat=True).first() or 0
    pending = Upload.objects.filter(user=user).aggregate(n=Sum("size"))["n"] or 0
    return stored + pending


def set_quota(user, limit_bytes: int) -> None:
    """Set USER's quota to LIMIT_BYTES (the `files_set_quota` command)."""
    if limit_bytes < 0:
        raise FilesError("A quota cannot be negative.")
    Quota.objects.update_or_create(user=user, defaults={"limit_bytes": limit_bytes})


def check_quota(user, extra: int, *, slack: int = 0) -> None:
    """Raise QuotaExceeded unless EXTRA more bytes (less SLACK, for a body's framing) fit USER's quota."""
    limit, used = quota_bytes(user), used_bytes(user)
    if used + extra > limit + slack:
        if slack:
            raise QuotaExceeded(
                f"This upload needs up to {extra} bytes but only {max(limit - used, 0)} are free."
            )
        raise QuotaExceeded(
            f"This upload needs {extra} bytes but only {max(limit - used, 0)} of your {limit} bytes are free."
        )


def lock_user(user) -> None:
    """Serialise quota decisions per person for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7410, user.pk])


def count_usage(user_id: int | None, delta: int) -> None:
    """Add DELTA to a person's stored bytes (inside the caller's transaction)."""
    if user_id is None or not delta:
        return
    if not Usage.objects.filter(user_id=user_id).update(bytes=F("bytes") + delta):
        Usage.objects.create(user_id=user_id, bytes=max(delta, 0))


def recount_usage() -> int:
    """Recompute every person's stored bytes from the file rows (the `files_recount_usage` repair);
    return how many people were counted."""
    totals = dict(
        File.objects.filter(created_by__isnull=False)
        .values_list("created_by")
        .annotate(n=Sum("size"))
        .values_list("created_by", "n")
    )
    with transaction.atomic():
        Usage.objects.exclude(user_id__in=totals).delete()
        for user_id, n in totals.items():
            Usage.objects.update_or_create(user_id=user_id, defaults={"bytes": n})
    return len(totals)
