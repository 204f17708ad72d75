"""Every change to files: views, the API, commands and tests call these verbs.

Rule for bytes and rows: the object is written first and the row committed only once the object exists;
when anything fails afterwards the object is removed, so a failed upload leaves neither.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import unicodedata
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from . import access
from .errors import Conflict, FilesError, Gone, QuotaExceeded  # noqa: F401 - re-exported
from .models import AuditEvent, File, Folder, PublicLink, Quota, Share, Space, Upload, Usage
from .storage import backend

log = logging.getLogger("strata.files")
MAX_NAME_BYTES = 255


# --- names and spaces ------------------------------------------------------------------------------


def clean_name(name) -> str:
    """Return NAME in NFC, or raise FilesError saying what is wrong with it."""
    if not isinstance(name, str):
        raise FilesError("A name is required.")
    name = unicodedata.normalize("NFC", name)
    if not name.strip():
        raise FilesError("A name is required.")
    if name in (".", ".."):
        raise FilesError("“.” and “..” are not allowed as names.")
    if "/" in name or "\\" in name:
        raise FilesError("Names cannot contain “/” or “\\”.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise FilesError("Names cannot contain control characters.")
    if name != name.strip():
        raise FilesError("Names cannot start or end with spaces.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise FilesError(f"Names are limited to {MAX_NAME_BYTES} bytes.")
    return name


def personal_space(user) -> Space:
    space, _ = Space.objects.get_or_create(kind=Space.PERSONAL, owner=user)
    return space


def group_space(group: Group) -> Space:
    space, _ = Space.objects.get_or_create(kind=Space.GROUP, group=group)
    return space


def spaces_for(user) -> list[Space]:
    """Return the person's own space first, then one per group they belong to (a constant number of
    queries: group spaces are made in one go the first time they are needed)."""
    groups = list(Group.objects.filter(user=user).order_by("name"))
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
    return [personal_space(user), *(spaces[g.id] for g in groups)]


def nav_spaces(user) -> list[Space]:
    """The spaces for the navigation bar in one query: own first, then groups' by name (spaces_for
    creates missing ones; this only reads)."""
    rows = list(
        Space.objects.filter(Q(owner=user) | Q(group__user=user))
        .select_related("group")
        .order_by("kind", "group__name")
        .distinct()
    )
    return sorted(rows, key=lambda s: (s.kind != Space.PERSONAL, s.group.name if s.group else ""))


def quota_status(user) -> tuple[int, int]:
    """Return (limit, used) bytes in one query (usage from its counter, plus uploads in progress)."""
    from django.db.models import OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

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
    limit = row["limit"] if row["limit"] is not None else settings.STRATA_FILES["quota_mb"] * 1024 * 1024
    return limit, row["stored"] + row["pending"]


def _taken(space, folder, name, exclude=None) -> bool:
    files = File.objects.filter(space=space, folder=folder, name=name, trashed_at__isnull=True)
    folders = Folder.objects.filter(space=space, parent=folder, name=name, trashed_at__isnull=True)
    if isinstance(exclude, File):
        files = files.exclude(pk=exclude.pk)
    elif isinstance(exclude, Folder):
        folders = folders.exclude(pk=exclude.pk)
    return files.exists() or folders.exists()


def free_name(space, folder, name, exclude=None, rename: bool = False) -> str:
    """Return NAME if free in FOLDER, else "name (2).ext" when RENAME, else raise Conflict."""
    if not _taken(space, folder, name, exclude):
        return name
    if not rename:
        raise Conflict(f"“{name}” already exists here.")
    stem, dot, ext = name.rpartition(".") if "." in name.strip(".") else (name, "", "")
    for n in range(2, 10000):
        candidate = f"{stem} ({n}){dot}{ext}"
        if len(candidate.encode()) <= MAX_NAME_BYTES and not _taken(space, folder, candidate, exclude):
            return candidate
    raise Conflict(f"“{name}” already exists here.")


def _check_target(user, space: Space, folder: Folder | None) -> None:
    if folder is not None:
        if folder.space_id != space.id:
            raise FilesError("That folder is in another space.")
        access.get_folder(user, folder.id, access.WRITE)
    elif access.space_role(user, space) != access.WRITE:
        raise FilesError("No such space.", 404)


def audit(actor, action: str, *, file=None, folder=None, address=None, **detail) -> None:
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


# --- quota ---------------------------------------------------------------------------------------


def quota_bytes(user) -> int:
    try:
        return user.file_quota.limit_bytes
    except Quota.DoesNotExist:
        return settings.STRATA_FILES["quota_mb"] * 1024 * 1024


def used_bytes(user) -> int:
    """Bytes counted against USER: files they uploaded (trash included) and uploads in progress."""
    stored = Usage.objects.filter(user=user).values_list("bytes", flat=True).first() or 0
    pending = Upload.objects.filter(user=user).aggregate(n=Sum("size"))["n"] or 0
    return stored + pending


def set_quota(user, limit_bytes: int) -> None:
    if limit_bytes < 0:
        raise FilesError("A quota cannot be negative.")
    Quota.objects.update_or_create(user=user, defaults={"limit_bytes": limit_bytes})


def _lock_user(user) -> None:
    """Serialise quota decisions per person for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7410, user.pk])


def _count_usage(user_id: int | None, delta: int) -> None:
    """Add DELTA to a person's stored bytes (inside the caller's transaction)."""
    if user_id is None or not delta:
        return
    if not Usage.objects.filter(user_id=user_id).update(bytes=F("bytes") + delta):
        Usage.objects.create(user_id=user_id, bytes=max(delta, 0))


def recount_usage() -> int:
    """Recompute every person's stored bytes from the file rows (repair; returns people counted)."""
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


def _check_quota(user, extra: int) -> None:
    limit, used = quota_bytes(user), used_bytes(user)
    if used + extra > limit:
        raise QuotaExceeded(
            f"This upload needs {extra} bytes but only {max(limit - used, 0)} of your {limit} bytes are free."
        )


def _check_size(length: int) -> None:
    limit = max_upload_bytes()
    if length < 0:
        raise FilesError("The upload size is missing or negative.", 411)
    if length > limit:
        raise FilesError(f"Files are limited to {limit} bytes.", 413)


def max_upload_bytes() -> int:
    return settings.STRATA_FILES["max_upload_mb"] * 1024 * 1024


def part_bytes() -> int:
    return settings.STRATA_FILES["part_mb"] * 1024 * 1024


def _new_key() -> str:
    return uuid.uuid4().hex


# --- uploads ---------------------------------------------------------------------------------------


def upload_file(
    user,
    space: Space,
    folder: Folder | None,
    name,
    stream,
    length: int,
    content_type: str = "application/octet-stream",
    rename: bool = False,
    address=None,
) -> File:
    """Store LENGTH bytes read from STREAM as a new file; the row exists only if the bytes do."""
    name = clean_name(name)
    _check_target(user, space, folder)
    _check_size(length)
    _check_quota(user, length)
    free_name(space, folder, name, rename=rename)  # fail fast, before any byte is read
    key = _new_key()
    store = backend()
    digest = store.save_stream(key, stream, length, content_type or "application/octet-stream", part_bytes())
    try:
        with transaction.atomic():
            _lock_user(user)
            _check_quota(user, length)
            f = File.objects.create(
                space=space,
                folder=folder,
                name=free_name(space, folder, name, rename=rename),
                size=digest.size,
                content_type=content_type or "application/octet-stream",
                key=key,
                sha256=digest.sha256,
                created_by=user,
            )
            audit(user, AuditEvent.UPLOAD, file=f, address=address, size=f.size)
            _count_usage(user.pk, f.size)
    except BaseException:
        store.delete(key)
        raise
    return f


def register_uploaded(
    user, space: Space, folder: Folder | None, stored: list, rename: bool = False, address=None
) -> list[File]:
    """Commit rows for objects already stored by a multipart request: all of them, or none (and no bytes)."""
    try:
        _check_target(user, space, folder)
        names = [clean_name(obj.name) for obj in stored]
        with transaction.atomic():
            _lock_user(user)
            _check_quota(user, sum(obj.size for obj in stored))
            out = []
            for obj, name in zip(stored, names, strict=True):
                _check_size(obj.size)
                f = File.objects.create(
                    space=space,
                    folder=folder,
                    name=free_name(space, folder, name, rename=rename),
                    size=obj.size,
                    content_type=obj.content_type,
                    key=obj.key,
                    sha256=obj.sha256,
                    created_by=user,
                )
                audit(user, AuditEvent.UPLOAD, file=f, address=address, size=f.size, form=True)
                _count_usage(user.pk, f.size)
                out.append(f)
    except BaseException:
        for obj in stored:
            backend().delete(obj.key)
        raise
    return out


def begin_upload(
    user, space: Space, folder: Folder | None, name, size: int, content_type: str = "application/octet-stream"
) -> Upload:
    """Open a resumable upload; parts are then sent with put_upload_part."""
    name = clean_name(name)
    _check_target(user, space, folder)
    _check_size(size)
    free_name(space, folder, name, rename=True)
    key = _new_key()
    with transaction.atomic():
        _lock_user(user)
        _check_quota(user, size)  # the declared size is reserved until the upload completes or is cancelled
        upload = Upload.objects.create(
            user=user,
            space=space,
            folder=folder,
            name=name,
            size=size,
            part_size=part_bytes(),
            content_type=content_type or "application/octet-stream",
            key=key,
            backend_upload_id="",
        )
    try:
        upload.backend_upload_id = backend().begin(key, upload.content_type)
    except BaseException:
        upload.delete()
        raise
    upload.save(update_fields=["backend_upload_id"])
    return upload


def part_count(upload: Upload) -> int:
    return max(1, -(-upload.size // upload.part_size))


def expected_part_size(upload: Upload, number: int) -> int:
    count = part_count(upload)
    if not 1 <= number <= count:
        raise FilesError(f"Part numbers run from 1 to {count}.")
    return upload.part_size if number < count else upload.size - upload.part_size * (count - 1)


def put_upload_part(upload: Upload, number: int, stream, length: int) -> None:
    want = expected_part_size(upload, number)
    if length != want:
        raise FilesError(f"Part {number} must be {want} bytes, not {length}.")
    backend().put_part(upload.key, upload.backend_upload_id, number, stream, length)


def upload_parts(upload: Upload) -> dict[int, int]:
    return backend().parts(upload.key, upload.backend_upload_id)


def complete_upload(upload: Upload, rename: bool = True, address=None) -> File:
    """Join the parts into the object, then commit the file's row; refuse if a part is missing."""
    parts = upload_parts(upload)
    missing = [n for n in range(1, part_count(upload) + 1) if parts.get(n) != expected_part_size(upload, n)]
    if missing:
        raise FilesError(f"Parts missing or incomplete: {', '.join(map(str, missing[:20]))}.")
    store = backend()
    if upload.size == 0:
        store.abort(upload.key, upload.backend_upload_id)
        import io

        store.save_stream(upload.key, io.BytesIO(b""), 0, upload.content_type, part_bytes())
    else:
        store.complete(upload.key, upload.backend_upload_id)
    try:
        if store.size(upload.key) != upload.size:
            raise FilesError("The stored file does not have the announced size.")
        with transaction.atomic():
            f = File.objects.create(
                space=upload.space,
                folder=upload.folder,
                name=free_name(upload.space, upload.folder, upload.name, rename=rename),
                size=upload.size,
                content_type=upload.content_type,
                key=upload.key,
                created_by=upload.user,
            )
            Upload.objects.filter(pk=upload.pk).delete()
            audit(upload.user, AuditEvent.UPLOAD, file=f, address=address, size=f.size, chunked=True)
            _count_usage(upload.user_id, f.size)
    except BaseException:
        store.delete(upload.key)
        raise
    from .tasks import compute_sha256

    transaction.on_commit(lambda: compute_sha256.enqueue(f.pk))
    return f


def cancel_upload(upload: Upload) -> None:
    backend().abort(upload.key, upload.backend_upload_id)
    upload.delete()


def fill_sha256(file_id: int) -> str:
    """Read the object back and record its sha256 (for chunked uploads)."""
    import hashlib

    f = File.objects.get(pk=file_id)
    digest = hashlib.sha256()
    for block in backend().read(f.key):
        digest.update(block)
    File.objects.filter(pk=f.pk, sha256="").update(sha256=digest.hexdigest())
    return digest.hexdigest()


# --- folders and files -------------------------------------------------------------------------------


def create_folder(user, space: Space, parent: Folder | None, name) -> Folder:
    name = clean_name(name)
    _check_target(user, space, parent)
    with transaction.atomic():
        try:
            return Folder.objects.create(
                space=space, parent=parent, name=free_name(space, parent, name), created_by=user
            )
        except IntegrityError:
            raise Conflict(f"“{name}” already exists here.") from None


def rename(user, node, new_name, address=None):
    new_name = clean_name(new_name)
    parent = node.folder if isinstance(node, File) else node.parent
    with transaction.atomic():
        free_name(node.space, parent, new_name, exclude=node)
        old = node.name
        node.name = new_name
        try:
            node.save(update_fields=["name", "updated_at"])
        except IntegrityError:
            raise Conflict(f"“{new_name}” already exists here.") from None
        audit(user, AuditEvent.RENAME, **{_kind(node): node}, address=address, old=old)
    return node


def _kind(node) -> str:
    return "file" if isinstance(node, File) else "folder"


def move(user, node, space: Space, target: Folder | None, address=None):
    _check_target(user, space, target)
    if (
        isinstance(node, Folder)
        and target is not None
        and node.id in {f.id for f in access.ancestors(target)}
    ):
        raise FilesError("A folder cannot be moved into itself.")
    if isinstance(node, Folder) and node.space_id != space.id:
        raise FilesError("Folders move within their space; move the files instead.")
    with transaction.atomic():
        free_name(space, target, node.name, exclude=node)
        node.space = space
        if isinstance(node, File):
            node.folder = target
        else:
            node.parent = target
        node.save()
        audit(user, AuditEvent.MOVE, **{_kind(node): node}, address=address, to=target.id if target else None)
    return node


def trash(user, node, address=None):
    node.trashed_at = timezone.now()
    node.save(update_fields=["trashed_at", "updated_at"])
    audit(user, AuditEvent.DELETE, **{_kind(node): node}, address=address)


def restore(user, node, address=None):
    """Bring NODE back from the trash, renamed if its name has been taken meanwhile."""
    parent = node.folder if isinstance(node, File) else node.parent
    if parent is not None and any(f.trashed_at for f in access.ancestors(parent)):
        parent = None  # its folder is in the trash too: restore to the space's root
    with transaction.atomic():
        node.name = free_name(node.space, parent, node.name, exclude=node, rename=True)
        if isinstance(node, File):
            node.folder = parent
        else:
            node.parent = parent
        node.trashed_at = None
        node.save()
        audit(user, AuditEvent.RESTORE, **{_kind(node): node}, address=address)


def trashed_in(space: Space):
    return (
        File.objects.filter(space=space, trashed_at__isnull=False).order_by("-trashed_at"),
        Folder.objects.filter(space=space, trashed_at__isnull=False).order_by("-trashed_at"),
    )


def _files_below(folder_ids: list[int]) -> list[File]:
    ids, frontier = set(folder_ids), list(folder_ids)
    while frontier:
        frontier = list(Folder.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.update(frontier)
    return list(File.objects.filter(folder_id__in=ids))


def empty_trash(user, space: Space, address=None) -> int:
    """Delete for good everything in SPACE's trash: bytes first, then the rows. Return files purged."""
    files, folders = trashed_in(space)
    folder_ids = list(folders.values_list("id", flat=True))
    doomed = list(files) + _files_below(folder_ids)
    store = backend()
    purged = 0
    for f in doomed:
        store.delete(f.key)  # raises if the file server refuses: the row stays and a retry finishes the job
        with transaction.atomic():
            audit(user, AuditEvent.PURGE, address=address, name=f.name, size=f.size)
            f.delete()
            _count_usage(f.created_by_id, -f.size)
        purged += 1
    Folder.objects.filter(id__in=folder_ids).delete()
    return purged


# --- sharing -----------------------------------------------------------------------------------------


def share(
    user, node, *, username: str = "", group: str = "", permission: str = Share.READ, address=None
) -> Share:
    if permission not in (Share.READ, Share.WRITE):
        raise FilesError("Permission must be “read” or “write”.")
    grantee = {}
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
    target = {_kind(node): node}
    s, _ = Share.objects.update_or_create(
        **target, **grantee, defaults={"permission": permission, "created_by": user}
    )
    audit(user, AuditEvent.SHARE, **target, address=address, permission=permission, grantee=username or group)
    if username:
        _notify_share(user, grantee["user"], node)
    return s


def _notify_share(sharer, person, node) -> None:
    """Tell PERSON about the share by email (the messaging app decides whether mail is on and wanted)."""
    from django.urls import reverse

    from strata.messaging.actions import notify

    path = reverse("files:file" if isinstance(node, File) else "files:folder", args=[node.id])
    url = settings.CONFIG.url().rstrip("/") + path
    who = sharer.get_full_name() or sharer.username
    notify(
        person, f"{who} shared “{node.name}” with you", f"{who} shared “{node.name}” with you in Strata.", url
    )


def unshare(user, share_obj: Share, address=None) -> None:
    node = share_obj.file or share_obj.folder
    share_obj.delete()
    audit(user, AuditEvent.UNSHARE, **{_kind(node): node}, address=address)


# --- public links ----------------------------------------------------------------------------------


def create_link(
    user,
    node,
    *,
    expires_in_days: int | None = None,
    password: str = "",
    max_downloads: int | None = None,
    address=None,
) -> PublicLink:
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise FilesError("Expiry must be between 1 and 3650 days.")
    if max_downloads is not None and not 1 <= max_downloads <= 1_000_000:
        raise FilesError("The download limit must be between 1 and 1,000,000.")
    link = PublicLink.objects.create(
        token=secrets.token_urlsafe(24),
        **{_kind(node): node},
        created_by=user,
        expires_at=timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
        password=make_password(password) if password else "",
        max_downloads=max_downloads,
    )
    audit(user, AuditEvent.LINK_CREATE, **{_kind(node): node}, address=address, link=link.id)
    return link


def get_link(token: str) -> PublicLink:
    """Return the live link for TOKEN; raise 404 for unknown, Gone (410) for expired or used up."""
    link = (
        PublicLink.objects.select_related("file", "folder").filter(token=token).first()
        if isinstance(token, str) and len(token) < 64
        else None
    )
    node = link and (link.file or link.folder)
    if link is None or link.revoked or node is None or node.trashed_at is not None:
        raise FilesError("This link does not exist.", 404)
    if link.expires_at and link.expires_at <= timezone.now():
        raise Gone("This link has expired.")
    if link.max_downloads is not None and link.downloads >= link.max_downloads:
        raise Gone("This link has reached its download limit.")
    return link


def check_link_password(link: PublicLink, password: str) -> bool:
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
    link.revoked = True
    link.save(update_fields=["revoked"])


# --- downloads -----------------------------------------------------------------------------------


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
    return store.accel_redirect(f.key, f.name, f.content_type, inline)


# --- search and listing ---------------------------------------------------------------------------


def search(user, query: str, limit: int = 100):
    terms = (query or "").split()[:8]
    if not terms:
        return File.objects.none()
    q = access.readable_files(user)
    for term in terms:
        q = q.filter(name__icontains=unicodedata.normalize("NFC", term)[:100])
    return q.select_related("space", "folder").order_by("name")[:limit]


def listing(space: Space, folder: Folder | None):
    """Return (folders, files) directly inside FOLDER (or the space's root), not trashed."""
    folders = Folder.objects.filter(space=space, parent=folder, trashed_at__isnull=True).order_by("name")
    files = File.objects.filter(space=space, folder=folder, trashed_at__isnull=True).order_by("name")
    return folders, files


def shared_with(user):
    groups = access.user_group_ids(user)
    return (
        Share.objects.filter(Q(user=user) | Q(group_id__in=groups))
        .filter(
            Q(file__trashed_at__isnull=True, file__isnull=False)
            | Q(folder__trashed_at__isnull=True, folder__isnull=False)
        )
        .select_related("file", "folder", "created_by")
        .order_by("-created_at")
    )
