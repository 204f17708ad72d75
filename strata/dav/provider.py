"""The WebDAV tree over the files app: WsgiDAV asks, Strata's files models, access helpers and actions answer.

    /dav/                                  the person's own name (what a client mounting /dav/ sees)
    /dav/<username>/                       My files (their personal space)
    /dav/<username>/Groups/<group>/        each group space they belong to
    /dav/<username>/Shared with me/<owner>/<name>   files and folders shared with them, by owner

Every change goes through strata.files.actions (the same permissions, quota, trash and audit trail as
the pages and the JSON API); a refusal becomes the WebDAV status RFC 4918 names, with its message.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator

from django.contrib.auth.models import Group
from django.http import Http404
from wsgidav import util
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_NOT_FOUND,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from strata.accounts.principal import ServicePrincipal
from strata.files import access, actions
from strata.files.errors import FilesError, QuotaExceeded
from strata.files.models import File, Folder, Space
from strata.files.storage import backend

GROUPS, SHARED = "Groups", "Shared with me"


@contextlib.contextmanager
def dav_errors() -> Iterator[None]:
    """Turn the files app's refusals into WebDAV errors carrying the same message."""
    try:
        yield
    except Http404:
        raise DAVError(HTTP_NOT_FOUND, "No such file or folder.") from None
    except QuotaExceeded as exc:
        # RFC 4918 11.5: the server cannot store the representation.
        raise DAVError(HTTP_INSUFFICIENT_STORAGE, str(exc)) from None
    except FilesError as exc:
        raise DAVError(exc.status, str(exc)) from None


def _nfc(name: str) -> str:
    # macOS sends decomposed (NFD) names; names are stored in NFC.
    return unicodedata.normalize("NFC", name)


def _ts(value) -> float | None:
    return value.timestamp() if value is not None else None


class _Strata:
    """What every resource knows: the person and their address (for the audit trail)."""

    environ: dict

    @property
    def user(self):
        return self.environ["strata.user"]

    @property
    def address(self) -> str | None:
        return self.environ.get("REMOTE_ADDR") or None


class VirtualCollection(_Strata, DAVCollection):
    """A read-only folder Strata makes up (the root, Groups, Shared with me, an owner's shares)."""

    def __init__(self, path: str, environ: dict, members: dict[str, DAVCollection | DAVNonCollection]):
        super().__init__(path, environ)
        self.members = members

    def get_member_names(self) -> list[str]:
        return list(self.members)

    def get_member(self, name: str):
        return self.members.get(_nfc(name))

    def get_member_list(self) -> list:
        return list(self.members.values())

    def get_display_name(self) -> str:
        return util.get_uri_name(self.path) or "Strata"

    def create_empty_resource(self, name: str):
        raise DAVError(HTTP_FORBIDDEN, "Files go into My files, a group's folder or a shared folder.")

    def create_collection(self, name: str):
        raise DAVError(HTTP_FORBIDDEN, "Folders go into My files, a group's folder or a shared folder.")

    def delete(self):
        raise DAVError(HTTP_FORBIDDEN, "This folder is part of the drive's layout and cannot be deleted.")

    def copy_move_single(self, dest_path: str, *, is_move: bool):
        raise DAVError(HTTP_FORBIDDEN, "This folder is part of the drive's layout.")

    def support_recursive_move(self, dest_path: str) -> bool:
        return False

    def prevent_locking(self) -> bool:
        return True


class FolderResource(_Strata, DAVCollection):
    """The root of a space (FOLDER None) or a folder in it; HOME adds Groups and Shared with me."""

    def __init__(self, path: str, environ: dict, space: Space, folder: Folder | None, home: bool = False):
        super().__init__(path, environ)
        self.space, self.folder, self.home = space, folder, home

    # -- reading ---------------------------------------------------------------------------------------
    def _children(self) -> list:
        folders, files = actions.listing(self.space, self.folder)
        out: list = [FolderResource(self._join(f.name), self.environ, self.space, f) for f in folders]
        out += [FileResource(self._join(f.name), self.environ, f) for f in files]
        return out

    def _join(self, name: str) -> str:
        return self.path.rstrip("/") + "/" + name

    def get_member_list(self) -> list:
        members = self._children()
        if self.home:
            members += [
                self.provider.get_resource_inst(self._join(n), self.environ) for n in (GROUPS, SHARED)
            ]
        return members

    def get_member_names(self) -> list[str]:
        return [util.get_uri_name(m.path) for m in self.get_member_list()]

    def get_member(self, name: str):
        return self.provider.get_resource_inst(self._join(_nfc(name)), self.environ)

    def get_display_name(self) -> str:
        return self.folder.name if self.folder is not None else self.space.title

    def get_creation_date(self) -> float | None:
        return _ts(self.folder.created_at) if self.folder is not None else None

    def get_last_modified(self) -> float | None:
        return _ts(self.folder.updated_at) if self.folder is not None else None

    # -- writing ---------------------------------------------------------------------------------------
    def create_collection(self, name: str):
        with dav_errors():
            actions.create_folder(self.user, self.space, self.folder, name)

    def create_empty_resource(self, name: str):
        if self.environ["REQUEST_METHOD"] == "PUT":
            # The PUT streams its body next (PendingFile.begin_write): no empty object first.
            return PendingFile(self._join(name), self.environ, self.space, self.folder, name)
        with dav_errors():  # LOCK on an unmapped URL creates an empty file (RFC 4918 7.3)
            f = actions.PushedUpload(
                self.user, self.space, self.folder, name, 0, address=self.address
            ).finish()
        return FileResource(self._join(f.name), self.environ, f)

    def delete(self):
        if self.folder is None:
            raise DAVError(HTTP_FORBIDDEN, "The root of a space cannot be deleted.")
        with dav_errors():
            actions.trash(self.user, self.folder, address=self.address)
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)

    def _destination(self, dest_path: str) -> tuple[FolderResource, str]:
        parent = self.provider.get_resource_inst(util.get_uri_parent(dest_path), self.environ)
        if not isinstance(parent, FolderResource):
            raise DAVError(HTTP_FORBIDDEN, "Nothing can be written there.")
        return parent, util.get_uri_name(dest_path)

    def copy_move_single(self, dest_path: str, *, is_move: bool):
        """Create the folder a copy of this one goes to (WsgiDAV copies the members one by one)."""
        parent, name = self._destination(dest_path)
        if self.folder is None or is_move:
            raise DAVError(HTTP_FORBIDDEN, "Folders move within their space.")
        existing = self.provider.get_resource_inst(dest_path, self.environ)
        if not isinstance(existing, FolderResource):  # a folder copied over a folder is merged into it
            with dav_errors():
                actions.create_folder(self.user, parent.space, parent.folder, name)
        self.provider.prop_manager.copy_properties(self.get_ref_url(), _ref(self, dest_path))

    def support_recursive_move(self, dest_path: str) -> bool:
        return self.folder is not None

    def move_recursive(self, dest_path: str):
        parent, name = self._destination(dest_path)
        if self.folder is None:
            raise DAVError(HTTP_FORBIDDEN, "The root of a space cannot be moved.")
        with dav_errors():
            actions.move(self.user, self.folder, parent.space, parent.folder, address=self.address, name=name)
        self.provider.prop_manager.move_properties(
            self.get_ref_url(), _ref(self, dest_path), with_children=True
        )
        return []

    def support_recursive_delete(self) -> bool:
        return True


class FileResource(_Strata, DAVNonCollection):
    """A stored file: its metadata from the row, its bytes from the file server (GET: X-Accel-Redirect)."""

    def __init__(self, path: str, environ: dict, f: File):
        super().__init__(path, environ)
        self.file = f
        self.upload: actions.PushedUpload | None = None

    def get_content_length(self) -> int:
        return self.file.size

    def get_content_type(self) -> str:
        return self.file.content_type or "application/octet-stream"

    def get_creation_date(self) -> float | None:
        return _ts(self.file.created_at)

    def get_last_modified(self) -> float | None:
        return _ts(self.file.updated_at)

    def get_display_name(self) -> str:
        return self.file.name

    def get_etag(self) -> str:
        # The object key is new with every upload: it changes exactly when the content does.
        return self.file.key

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self):
        """Return the bytes as a stream (only COPY fallbacks read them here; GET goes through nginx)."""
        return _BlockReader(backend().read(self.file.key))

    def begin_write(self, *, content_type=None):
        with dav_errors():
            self.upload = actions.PushedUpload(
                self.user,
                self.file.space,
                self.file.folder,
                self.file.name,
                _length(self.environ),
                content_type or "",
                replace=self.file,
                address=self.address,
            )
        return _Writer(self.upload)

    def end_write(self, *, with_errors: bool):
        finish_upload(self, with_errors)

    def delete(self):
        with dav_errors():
            actions.trash(self.user, self.file, address=self.address)
        self.remove_all_properties(recursive=False)
        self.remove_all_locks(recursive=False)

    def copy_move_single(self, dest_path: str, *, is_move: bool):
        parent = self.provider.get_resource_inst(util.get_uri_parent(dest_path), self.environ)
        if not isinstance(parent, FolderResource):
            raise DAVError(HTTP_FORBIDDEN, "Nothing can be written there.")
        name = util.get_uri_name(dest_path)
        src_ref = self.get_ref_url()
        with dav_errors():
            if is_move:
                actions.move(
                    self.user, self.file, parent.space, parent.folder, address=self.address, name=name
                )
            else:
                existing = self.provider.get_resource_inst(dest_path, self.environ)
                actions.copy_file(
                    self.user,
                    self.file,
                    parent.space,
                    parent.folder,
                    name,
                    address=self.address,
                    replace=existing.file if isinstance(existing, FileResource) else None,
                )
        dest_ref = _ref(self, dest_path)
        if is_move:
            self.provider.prop_manager.move_properties(src_ref, dest_ref, with_children=False)
        else:
            self.provider.prop_manager.copy_properties(src_ref, dest_ref)

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str):
        self.copy_move_single(dest_path, is_move=True)
        return []


class PendingFile(FileResource):
    """A file a PUT is creating: no row until its bytes are stored."""

    def __init__(self, path: str, environ: dict, space: Space, folder: Folder | None, name: str):
        DAVNonCollection.__init__(self, path, environ)
        self.space, self.folder, self.name = space, folder, name
        self.file = File(space=space, folder=folder, name=name, size=0, key="")
        self.upload = None

    def begin_write(self, *, content_type=None):
        with dav_errors():
            self.upload = actions.PushedUpload(
                self.user,
                self.space,
                self.folder,
                self.name,
                _length(self.environ),
                content_type or "",
                address=self.address,
            )
        return _Writer(self.upload)


def finish_upload(res: FileResource, with_errors: bool) -> None:
    """Commit RES's upload, or drop it when the body did not arrive whole."""
    upload, res.upload = res.upload, None
    if upload is None:
        return
    if with_errors:
        upload.abort()
        return
    with dav_errors():
        res.file = upload.finish()


def _length(environ: dict) -> int | None:
    """Return the body's Content-Length, or None when it is chunked (as Windows sends it)."""
    value = environ.get("CONTENT_LENGTH", "")
    if not value or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return int(value)
    except ValueError:
        raise DAVError(400, "Content-Length must be a number.") from None


class _Writer:
    """What WsgiDAV writes the PUT body into. With a Content-Length the body is pulled through to the
    store like the JSON API's streamed upload; chunked, each block goes to the upload as it arrives."""

    def __init__(self, upload: actions.PushedUpload):
        self.upload = upload

    def writelines(self, blocks: Iterator[bytes]) -> None:
        with dav_errors():
            if self.upload.length is not None:
                self.upload.send(_BlockReader(iter(blocks)))
                return
            for block in blocks:
                self.upload.write(block)

    def write(self, data: bytes) -> None:
        with dav_errors():
            self.upload.write(data)

    def close(self) -> None:
        """Nothing to do: end_write() commits (or drops) the upload."""


class _BlockReader:
    """A file-like view of an iterator of blocks."""

    def __init__(self, blocks: Iterator[bytes]):
        self.blocks, self.rest = blocks, b""

    def read(self, size: int = -1) -> bytes:
        """Return up to SIZE bytes (all when negative); short only at the end."""
        if 0 <= size <= len(self.rest) or (not self.rest and size == 0):
            out, self.rest = self.rest[:size], self.rest[size:]
            return out
        parts = [self.rest] if self.rest else []
        have = len(self.rest)
        while size < 0 or have < size:
            block = next(self.blocks, b"")
            if not block:
                break
            parts.append(block)
            have += len(block)
        data = b"".join(parts) if len(parts) != 1 else parts[0]
        if size < 0 or len(data) <= size:
            self.rest = b""
            return data
        out, self.rest = data[:size], data[size:]
        return out

    def close(self) -> None:
        """Nothing to release."""


class StrataProvider(DAVProvider):
    """Resolve a path below /dav/ to a resource of the person who asks (environ["strata.user"])."""

    def get_resource_inst(self, path: str, environ: dict):
        self._count_get_resource_inst += 1
        user = environ["strata.user"]
        parts = [_nfc(p) for p in path.strip("/").split("/") if p]
        base = "/" + user.username
        if not parts:
            return VirtualCollection("/", environ, {user.username: self.get_resource_inst(base, environ)})
        if parts[0] != user.username:
            return None
        rest = parts[1:]
        if rest and rest[0] == GROUPS:
            return self._groups(base + "/" + GROUPS, environ, rest[1:])
        if rest and rest[0] == SHARED:
            return self._shared(base + "/" + SHARED, environ, rest[1:])
        if isinstance(user, ServicePrincipal):  # owns nothing: its groups' spaces and their shares
            if rest:
                return None
            return VirtualCollection(
                base, environ, {n: self.get_resource_inst(f"{base}/{n}", environ) for n in (GROUPS, SHARED)}
            )
        return _walk(base, environ, actions.personal_space(user), None, rest, home=True)

    def _groups(self, base: str, environ: dict, rest: list[str]):
        user = environ["strata.user"]
        if isinstance(user, ServicePrincipal):
            found = actions.group_spaces(user.service.groups.all())
        else:
            found = [s for s in actions.spaces_for(user) if s.group is not None]
        spaces = {s.group.name: s for s in found if s.group is not None}
        if not rest:
            members = {n: FolderResource(f"{base}/{n}", environ, s, None) for n, s in spaces.items()}
            return VirtualCollection(base, environ, members)
        space = spaces.get(rest[0])
        if space is None:
            return None
        return _walk(f"{base}/{rest[0]}", environ, space, None, rest[1:])

    def _shared(self, base: str, environ: dict, rest: list[str]):
        by_owner = _shared_nodes(environ["strata.user"])
        if not rest:
            members = {
                owner: self._shared(base, environ, [owner]) for owner in sorted(by_owner, key=str.casefold)
            }
            return VirtualCollection(base, environ, members)
        nodes = by_owner.get(rest[0])
        if nodes is None:
            return None
        here = f"{base}/{rest[0]}"
        if len(rest) == 1:
            shared: dict = {}
            for name, item in nodes.items():
                if isinstance(item, Folder):
                    shared[name] = FolderResource(f"{here}/{name}", environ, item.space, item)
                else:
                    shared[name] = FileResource(f"{here}/{name}", environ, item)
            return VirtualCollection(here, environ, shared)
        node = nodes.get(rest[1])
        if isinstance(node, File):
            return FileResource(f"{here}/{node.name}", environ, node) if len(rest) == 2 else None
        if node is None:
            return None
        return _walk(f"{here}/{node.name}", environ, node.space, node, rest[2:])


def _ref(res, path: str) -> str:
    """Return the key of the resource now at PATH (dead properties follow it there)."""
    dest = res.provider.get_resource_inst(path, res.environ)
    if dest is None:
        raise DAVError(HTTP_NOT_FOUND, "The destination vanished.")
    return dest.get_ref_url()


def _owner_name(space: Space) -> str:
    if space.owner is not None:
        return space.owner.get_username()
    return space.group.name if isinstance(space.group, Group) else "group"


def _shared_nodes(user) -> dict[str, dict[str, File | Folder]]:
    """Return {owner's name: {name: file or folder}} of what is shared with USER (the first of two
    shares of one name wins; nothing of USER's own spaces)."""
    out: dict[str, dict[str, File | Folder]] = {}
    shares = actions.shared_with(user).select_related(
        "file__space__owner", "file__space__group", "folder__space__owner", "folder__space__group"
    )
    for share in shares:
        node = share.file or share.folder
        if node is None or access.space_role(user, node.space) is not None:
            continue
        out.setdefault(_owner_name(node.space), {}).setdefault(node.name, node)
    return out


def _walk(base: str, environ: dict, space: Space, start: Folder | None, rest: list[str], home: bool = False):
    """Return the resource at REST below START (a folder of SPACE, or its root), or None."""
    folder, path = start, base
    for i, name in enumerate(rest):
        child = Folder.objects.filter(space=space, parent=folder, name=name, trashed_at__isnull=True).first()
        path = f"{path}/{name}"
        if child is not None:
            folder = child
            continue
        if i < len(rest) - 1:
            return None
        f = (
            File.objects.select_related("space", "folder")
            .filter(space=space, folder=folder, name=name, trashed_at__isnull=True)
            .first()
        )
        return FileResource(path, environ, f) if f is not None else None
    return FolderResource(path, environ, space, folder, home=home and folder is None)
