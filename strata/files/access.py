"""Who may see or change what. Every view and action goes through these helpers.

One table, RULES, decides for each role a person (or a public link) can have on a file or folder which
actions it allows; the README's files section prints the same table. Something a person cannot see at all
answers 404 (its existence is not revealed); something they can see but not change answers 403 with a
message saying why. Anything in the trash, or below a folder in the trash, is hidden from every path.
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.http import Http404

from strata.site.live import cached

from .errors import FilesError
from .models import File, Folder, Share, Space

READ, WRITE = "read", "write"

# --- the sharing table ---------------------------------------------------------------------------------
# Roles, strongest first. A group space has no single owner and no admins: its members manage it together
# (share, link) but cannot take its content out of the group's space.
OWNER, MEMBER, WRITER, READER, PUBLIC = "owner", "group member", "write-sharer", "read-sharer", "public link"
ROLES = (OWNER, MEMBER, WRITER, READER, PUBLIC)

VIEW, DOWNLOAD, UPLOAD, RENAME = "view", "download", "upload into", "rename"
MOVE_WITHIN, MOVE_OUT, TRASH, RESTORE = "move within the space", "move out of the space", "trash", "restore"
SHARE, UNSHARE, CREATE_LINK, SEE_LINKS = "share", "unshare", "create link", "see link tokens"
ACTIONS = (
    VIEW,
    DOWNLOAD,
    UPLOAD,
    RENAME,
    MOVE_WITHIN,
    MOVE_OUT,
    TRASH,
    RESTORE,
    SHARE,
    UNSHARE,
    CREATE_LINK,
    SEE_LINKS,
)

_EVERYONE = frozenset(ROLES)
_WRITERS = frozenset({OWNER, MEMBER, WRITER})
_MANAGERS = frozenset({OWNER, MEMBER})
RULES: dict[str, frozenset[str]] = {
    VIEW: _EVERYONE,
    DOWNLOAD: _EVERYONE,
    UPLOAD: _WRITERS,
    RENAME: _WRITERS,
    MOVE_WITHIN: _WRITERS,
    MOVE_OUT: frozenset({OWNER}),
    TRASH: _WRITERS,
    RESTORE: _WRITERS,
    SHARE: _MANAGERS,
    UNSHARE: _MANAGERS,
    CREATE_LINK: _MANAGERS,
    SEE_LINKS: _MANAGERS,
}

_REFUSED = {
    UPLOAD: "You can read this folder but not upload into it.",
    RENAME: "You can read this but not rename it.",
    MOVE_WITHIN: "You can read this but not move it.",
    MOVE_OUT: "Only the owner can move this out of their space.",
    TRASH: "You can read this but not move it to the trash.",
    RESTORE: "You can read this but not restore it.",
    SHARE: "Only the owner can share this.",
    UNSHARE: "Only the owner can remove a share.",
    CREATE_LINK: "Only the owner can create or revoke public links.",
    SEE_LINKS: "Only the owner can see public links.",
}


def allows(role: str | None, action: str) -> bool:
    """Return whether ROLE may do ACTION (the table above)."""
    return role is not None and role in RULES[action]


# The names templates use for the table's actions (`{% if can.upload %}`): pages show a control only when
# the table allows it, so a page cannot offer what the action behind it would refuse.
TEMPLATE_NAMES = {
    VIEW: "view",
    DOWNLOAD: "download",
    UPLOAD: "upload",
    RENAME: "rename",
    MOVE_WITHIN: "move",
    MOVE_OUT: "move_out",
    TRASH: "trash",
    RESTORE: "restore",
    SHARE: "share",
    UNSHARE: "unshare",
    CREATE_LINK: "create_link",
    SEE_LINKS: "see_links",
}


def can(role: str | None) -> dict[str, bool]:
    """Return {template name: allowed} for every action of the table, for a person with ROLE."""
    return {name: allows(role, action) for action, name in TEMPLATE_NAMES.items()}


def table_markdown() -> str:
    """Return RULES as a Markdown table (the README's copy is checked against it)."""
    lines = ["| | " + " | ".join(ROLES) + " |", "|---" * (len(ROLES) + 1) + "|"]
    for action in ACTIONS:
        lines.append(
            f"| {action} | " + " | ".join("yes" if allows(r, action) else "no" for r in ROLES) + " |"
        )
    return "\n".join(lines)


def user_group_ids(user) -> list[int]:
    cache = getattr(user, "_strata_group_ids", None)
    if cache is None:
        cache = list(user.groups.values_list("id", flat=True))
        user._strata_group_ids = cache
    return cache


def space_role(user, space: Space) -> str | None:
    """Return WRITE when USER owns SPACE or belongs to its group, else None."""
    return WRITE if _space_role(user, space) else None


def _space_role(user, space: Space) -> str | None:
    if not user.is_authenticated:
        return None
    if space.kind == Space.PERSONAL:
        return OWNER if space.owner_id == user.id else None
    return MEMBER if space.group_id in user_group_ids(user) else None


def ancestors(folder: Folder | None) -> list[Folder]:
    """Return FOLDER and its parents, nearest first."""
    out = []
    while folder is not None:
        out.append(folder)
        folder = folder.parent
    return out


def _parent(node: File | Folder) -> Folder | None:
    return node.folder if isinstance(node, File) else node.parent


def under_trash(node: File | Folder) -> bool:
    """Return whether a folder above NODE is in the trash (which hides NODE with it)."""
    return any(f.trashed_at is not None for f in ancestors(_parent(node)))


def hidden(node: File | Folder) -> bool:
    """Return whether NODE is in the trash or below a folder that is."""
    return node.trashed_at is not None or under_trash(node)


# Every folder in the trash and every folder below one, at any depth (one query, however deep).
_TRASHED_FOLDERS_SQL = (
    "WITH RECURSIVE dead(id) AS ("
    " SELECT id FROM files_folder WHERE trashed_at IS NOT NULL"
    " UNION SELECT f.id FROM files_folder f JOIN dead d ON f.parent_id = d.id"
    ") SELECT id FROM dead"
)


def trashed_folders() -> RawSQL:
    """Return a subquery of the ids of folders in the trash or below one (for `__in` filters)."""
    return RawSQL(_TRASHED_FOLDERS_SQL, [])  # noqa: S611 (a constant, no parameters)


def grantee(user) -> Q:
    """Shares given to USER or one of their groups (a service account has groups only)."""
    who = Q(group_id__in=user_group_ids(user))
    return who | Q(user=user) if user.pk is not None else who


def _share_permission(user, files: list[int], folders: list[int]) -> str | None:
    perms = set(
        Share.objects.filter(grantee(user))
        .filter(Q(file_id__in=files) | Q(folder_id__in=folders))
        .values_list("permission", flat=True)
    )
    return WRITE if WRITE in perms else READ if perms else None


def space_role_name(user, space: Space) -> str | None:
    """Return USER's role on SPACE itself (OWNER or MEMBER), or None."""
    return _space_role(user, space)


def role_on(user, node: File | Folder) -> str | None:
    """Return USER's role on NODE: OWNER or MEMBER of its space, WRITER or READER through a share, or None."""
    if not user.is_authenticated:
        return None
    role = _space_role(user, node.space)
    if role:
        return role
    if isinstance(node, File):
        perm = _share_permission(user, [node.id], [f.id for f in ancestors(node.folder)])
    else:
        perm = _share_permission(user, [], [f.id for f in ancestors(node)])
    return {WRITE: WRITER, READ: READER}.get(perm or "")


def node_permission(user, node: File | Folder) -> str | None:
    """Return the strongest permission USER has on NODE (own space, group space or a share)."""
    role = role_on(user, node)
    return WRITE if role in _WRITERS else READ if role else None


def require(user, node: File | Folder, action: str, message: str = "") -> str:
    """Raise unless USER may do ACTION on NODE: 404 when they cannot see it, 403 when they can but the
    table refuses ACTION. Return their role."""
    role = role_on(user, node)
    if role is None:
        raise Http404
    if not allows(role, action):
        raise FilesError(message or _REFUSED.get(action, "You may not do that."), 403)
    return role


def _action(need: str) -> str:
    return {READ: VIEW, WRITE: RENAME}.get(need, need)


def _check(user, node, need: str, trashed: bool):
    if (node.trashed_at is not None) != trashed:
        raise Http404
    if not trashed and under_trash(node):
        raise Http404
    require(user, node, _action(need), "You can read this but not change it." if need == WRITE else "")
    return node


def get_file(user, file_id, need: str = READ, trashed: bool = False) -> File:
    """Return the file FILE_ID if USER may do NEED (READ, WRITE or an action of the table) on it."""
    try:
        node = File.objects.select_related("space", "folder").get(pk=file_id)
    except (File.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    return _check(user, node, need, trashed)


def get_folder(user, folder_id, need: str = READ, trashed: bool = False) -> Folder:
    """Return the folder FOLDER_ID if USER may do NEED (READ, WRITE or an action of the table) on it."""
    try:
        node = Folder.objects.select_related("space", "parent").get(pk=folder_id)
    except (Folder.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    return _check(user, node, need, trashed)


def get_folder_to_read(user, folder_id) -> Folder:
    """Return get_folder(USER, FOLDER_ID) for a page that only reads it: the folder, its space and every
    folder above it from the live cache (kind "fo", dropped on any change to a folder or a space:
    migration files.0008), USER's role on it decided afresh. The object is shared by the process's
    threads: never change it (get_folder gives one of the request's own)."""
    try:
        key = str(int(folder_id))
    except (ValueError, TypeError):
        raise Http404 from None
    node = cached("fo", key, lambda: _folder_and_parents(key))
    if node is None:
        raise Http404
    return _check(user, node, READ, False)


def _folder_and_parents(folder_id: str) -> Folder | None:
    node = Folder.objects.select_related("space", "parent").filter(pk=folder_id).first()
    ancestors(node)  # load every parent now: a shared object must not fill its caches later
    return node


def get_space(user, space_id, need: str = READ) -> Space:
    try:
        space = Space.objects.select_related("owner", "group").get(pk=space_id)
    except (Space.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if space_role(user, space) is None:
        raise Http404
    return space


def readable_files(user):
    """Files USER may read: in their spaces, or shared with them directly or through a folder; never one
    in the trash or below a folder in the trash."""
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
    ).exclude(folder_id__in=trashed_folders())


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
    """Return a share USER may remove (the owner's, or a group space member's), else 404/403."""
    try:
        share = Share.objects.select_related("file__space", "folder__space", "user", "group").get(pk=share_id)
    except (Share.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    node = share.file or share.folder
    if node is None:
        raise Http404
    require(user, node, UNSHARE)
    return share


def get_link_for_owner(user, link_id):
    """Return a live public link USER may revoke (the owner's, or a group space member's), else 404/403."""
    from .models import PublicLink

    try:
        link = PublicLink.objects.select_related("file__space", "folder__space").get(
            pk=link_id, revoked=False
        )
    except (PublicLink.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    node = link.file or link.folder
    if node is None:
        raise Http404
    require(user, node, CREATE_LINK)
    return link
