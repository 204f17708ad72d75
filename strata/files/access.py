"""Who may see or change what. Every view goes through these helpers; a refusal is always a 404."""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404

from .models import File, Folder, Share, Space

READ, WRITE = "read", "write"


def user_group_ids(user) -> list[int]:
    cache = getattr(user, "_strata_group_ids", None)
    if cache is None:
        cache = list(user.groups.values_list("id", flat=True))
        user._strata_group_ids = cache
    return cache


def space_role(user, space: Space) -> str | None:
    """Return WRITE when USER owns SPACE or belongs to its group, else None."""
    if space.kind == Space.PERSONAL:
        return WRITE if space.owner_id == user.id else None
    return WRITE if space.group_id in user_group_ids(user) else None


def ancestors(folder: Folder | None) -> list[Folder]:
    """Return FOLDER and its parents, nearest first."""
    out = []
    while folder is not None:
        out.append(folder)
        folder = folder.parent
    return out


def _share_permission(user, files: list[int], folders: list[int]) -> str | None:
    grantee = Q(user=user) | Q(group_id__in=user_group_ids(user))
    perms = set(
        Share.objects.filter(grantee)
        .filter(Q(file_id__in=files) | Q(folder_id__in=folders))
        .values_list("permission", flat=True)
    )
    return WRITE if WRITE in perms else READ if perms else None


def node_permission(user, node: File | Folder) -> str | None:
    """Return the strongest permission USER has on NODE (own space, group space or a share)."""
    if not user.is_authenticated:
        return None
    role = space_role(user, node.space)
    if role:
        return role
    if isinstance(node, File):
        return _share_permission(user, [node.id], [f.id for f in ancestors(node.folder)])
    return _share_permission(user, [], [f.id for f in ancestors(node)])


def _check(user, node, need: str, trashed: bool):
    if (node.trashed_at is not None) != trashed:
        raise Http404
    if (
        isinstance(node, File)
        and node.folder
        and not trashed
        and any(f.trashed_at for f in ancestors(node.folder))
    ):
        raise Http404
    perm = node_permission(user, node)
    if perm is None or (need == WRITE and perm != WRITE):
        raise Http404
    return node


def get_file(user, file_id, need: str = READ, trashed: bool = False) -> File:
    try:
        node = File.objects.select_related("space", "folder").get(pk=file_id)
    except (File.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    return _check(user, node, need, trashed)


def get_folder(user, folder_id, need: str = READ, trashed: bool = False) -> Folder:
    try:
        node = Folder.objects.select_related("space", "parent").get(pk=folder_id)
    except (Folder.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    return _check(user, node, need, trashed)


def get_space(user, space_id, need: str = READ) -> Space:
    try:
        space = Space.objects.select_related("owner", "group").get(pk=space_id)
    except (Space.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if space_role(user, space) is None:
        raise Http404
    return space


def readable_files(user):
    """Files USER may read: in their spaces, or shared with them directly or through a folder."""
    groups = user_group_ids(user)
    mine = Q(space__owner=user) | Q(space__group_id__in=groups)
    grantee = Q(user=user) | Q(group_id__in=groups)
    shared_files = Share.objects.filter(grantee, file__isnull=False).values("file_id")
    shared_folders = list(
        Share.objects.filter(grantee, folder__isnull=False).values_list("folder_id", flat=True)
    )
    # Folders below a shared folder: expand level by level (trees are shallow).
    frontier, below = shared_folders, set(shared_folders)
    while frontier:
        frontier = [
            f
            for f in Folder.objects.filter(parent_id__in=frontier).values_list("id", flat=True)
            if f not in below
        ]
        below.update(frontier)
    return File.objects.filter(
        mine | Q(id__in=shared_files) | Q(folder_id__in=below), trashed_at__isnull=True
    )


def get_file_in_tree(root: Folder, file_id) -> File:
    """Return the live file FILE_ID if it lies anywhere below ROOT, else 404 (public folder links)."""
    try:
        f = File.objects.select_related("folder").get(pk=file_id, trashed_at__isnull=True)
    except (File.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    chain = ancestors(f.folder)
    if root.id not in {x.id for x in chain} or any(x.trashed_at for x in chain):
        raise Http404
    return f


def get_share(user, share_id) -> Share:
    """Return a share of something USER may write (the only people who may remove it), else 404."""
    try:
        share = Share.objects.select_related("file__space", "folder__space", "user", "group").get(pk=share_id)
    except (Share.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    node = share.file or share.folder
    if node is None or node_permission(user, node) != WRITE:
        raise Http404
    return share


def get_link_for_owner(user, link_id):
    from .models import PublicLink

    try:
        link = PublicLink.objects.select_related("file__space", "folder__space").get(
            pk=link_id, revoked=False
        )
    except (PublicLink.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    node = link.file or link.folder
    if node is None or node_permission(user, node) != WRITE:
        raise Http404
    return link
