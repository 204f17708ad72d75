"""The tree of a space: folders, renaming, moving, the trash, and listing a folder."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import access
from ..errors import Conflict, FilesError
from ..models import AuditEvent, DeletedObject, File, Folder, Share, Space
from ..storage import backend
from .audit import audit, node_kind
from .names import clean_name, free_name
from .spaces import check_target, count_usage, spaces_for


def create_folder(user, space: Space, parent: Folder | None, name) -> Folder:
    """Create the folder NAME in PARENT (or the root of SPACE)."""
    name = clean_name(name)
    check_target(user, space, parent)
    with transaction.atomic():
        try:
            return Folder.objects.create(
                space=space, parent=parent, name=free_name(space, parent, name), created_by=user
            )
        except IntegrityError:
            raise Conflict(f"“{name}” already exists here.") from None


def rename(user, node, new_name, address=None):
    """Rename NODE (a file or folder) in place; refuse a name taken in its folder."""
    access.require(user, node, access.RENAME)
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
        audit(user, AuditEvent.RENAME, **{node_kind(node): node}, address=address, old=old)
    return node


def move(user, node, space: Space, target: Folder | None, address=None, name=None):
    """Move NODE into TARGET (or the root of SPACE), renamed NAME when given; folders stay within their
    space. Only the owner may move a file out of its space (a write-sharer taking it would leave it on the
    owner's quota)."""
    access.require(user, node, access.MOVE_WITHIN if space.id == node.space_id else access.MOVE_OUT)
    if name is not None:
        name = clean_name(name)
        access.require(user, node, access.RENAME)
    check_target(user, space, target)
    if (
        isinstance(node, Folder)
        and target is not None
        and node.id in {f.id for f in access.ancestors(target)}
    ):
        raise FilesError("A folder cannot be moved into itself.")
    if isinstance(node, Folder) and node.space_id != space.id:
        raise FilesError("Folders move within their space; move the files instead.")
    with transaction.atomic():
        old = node.name
        node.name = name or node.name
        free_name(space, target, node.name, exclude=node)
        node.space = space
        if isinstance(node, File):
            node.folder = target
        else:
            node.parent = target
        node.save()
        audit(
            user,
            AuditEvent.MOVE,
            **{node_kind(node): node},
            address=address,
            to=target.id if target else None,
            **({"old": old} if node.name != old else {}),
        )
    return node


def trash(user, node, address=None):
    """Put NODE in its space's trash (its bytes stay until the trash is emptied)."""
    access.require(user, node, access.TRASH)
    node.trashed_at = timezone.now()
    node.save(update_fields=["trashed_at", "updated_at"])
    audit(user, AuditEvent.DELETE, **{node_kind(node): node}, address=address)


def restore(user, node, address=None):
    """Bring NODE back from the trash, renamed if its name has been taken meanwhile."""
    access.require(user, node, access.RESTORE)
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
        audit(user, AuditEvent.RESTORE, **{node_kind(node): node}, address=address)


def trashed_in(space: Space):
    """Return (files, folders) in SPACE's trash, most recently trashed first."""
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
    # A file trashed on its own and then its folder too is in both lists: purge (and uncount) it once.
    doomed = {f.pk: f for f in [*files, *_files_below(folder_ids)]}
    store = backend()
    # With point-in-time recovery the bytes stay until its window has passed (the files.purge task).
    keep = bool(settings.STRATA_FILES.get("pitr"))
    purged = 0
    for f in doomed.values():
        if not keep:
            store.delete(f.key)  # raises if the file server refuses: the row stays and a retry finishes
        with transaction.atomic():
            # Count only a row this call removed (two people emptying one trash at once purge it once).
            if File.objects.filter(pk=f.pk).delete()[0]:
                if keep:
                    DeletedObject.objects.get_or_create(key=f.key)
                audit(user, AuditEvent.PURGE, address=address, name=f.name, size=f.size)
                count_usage(f.created_by_id, -f.size)
                purged += 1
    Folder.objects.filter(id__in=folder_ids).delete()
    return purged


def listing(space: Space, folder: Folder | None):
    """Return (folders, files) directly inside FOLDER (or the space's root), not trashed (callers look
    FOLDER up through access, which refuses one below a trashed folder)."""
    folders = Folder.objects.filter(space=space, parent=folder, trashed_at__isnull=True).order_by("name")
    files = File.objects.filter(space=space, folder=folder, trashed_at__isnull=True).order_by("name")
    return folders, files


# --- where something may be moved (the folder picker) ------------------------------------------------

MAX_DESTINATIONS = 2000  # folders listed per space by the picker


@dataclass
class Destination:
    """A place the picker offers: the root of SPACE (FOLDER None) or FOLDER, shown as PATH."""

    space: Space
    folder: Folder | None
    path: str
    depth: int
    current: bool  # where the node is now

    @property
    def value(self) -> str:
        return f"{self.space.id}:{self.folder.id if self.folder else ''}"


def move_destinations(user, node) -> list[Destination]:
    """Return where USER may move NODE, by the sharing table: the folders of its space they may upload
    into (not NODE itself or below it, nothing in the trash), and for a file whose owner they are, their
    other spaces too. Two queries per space, however many folders."""
    role = access.role_on(user, node)
    if not access.allows(role, access.MOVE_WITHIN):
        return []
    spaces = [node.space]
    if isinstance(node, File) and access.allows(role, access.MOVE_OUT):
        spaces += [s for s in spaces_for(user) if s.id != node.space_id]
    parent = node.folder if isinstance(node, File) else node.parent
    out: list[Destination] = []
    for space in spaces:
        out += _space_destinations(user, node, space, parent)
    return out


def _space_destinations(user, node, space: Space, parent: Folder | None) -> list[Destination]:
    folders = {f.id: f for f in Folder.objects.filter(space=space).order_by("id")[:MAX_DESTINATIONS]}
    whole_space = access.space_role(user, space) == access.WRITE
    groups = access.user_group_ids(user)
    writable = set(
        Share.objects.filter(
            Q(user=user) | Q(group_id__in=groups), folder__space=space, permission=Share.WRITE
        ).values_list("folder_id", flat=True)
    )
    here = node.space_id == space.id
    out = []
    if whole_space:
        out.append(Destination(space, None, space.title, 0, here and parent is None))
    for f in folders.values():
        chain: list[Folder] = []
        up: Folder | None = f
        while up is not None:
            chain.append(up)
            up = folders.get(up.parent_id) if up.parent_id else None
        if any(c.trashed_at is not None for c in chain):
            continue
        if isinstance(node, Folder) and node.id in {c.id for c in chain}:
            continue  # a folder cannot go into itself or below itself
        top = list(reversed(chain))
        if not whole_space:
            # A sharer sees the path from the folder shared with them, not the owner's folders above it.
            shared = [i for i, c in enumerate(top) if c.id in writable]
            if not shared:
                continue
            top = top[shared[0] :]
        names = [c.name for c in top]
        current = here and parent is not None and parent.id == f.id
        label = space.title if whole_space else "Shared with me"
        out.append(Destination(space, f, " / ".join([label, *names]), len(names), current))
    out.sort(key=lambda d: (d.depth > 0, d.path.casefold()))
    return out
