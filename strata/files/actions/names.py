"""Names of files and folders: what is allowed, and finding a free one in a folder."""

from __future__ import annotations

import unicodedata

from ..errors import Conflict, FilesError
from ..models import File, Folder, Space

MAX_NAME_BYTES = 255


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


def _taken(space: Space, folder: Folder | None, name: str, exclude=None) -> bool:
    files = File.objects.filter(space=space, folder=folder, name=name, trashed_at__isnull=True)
    folders = Folder.objects.filter(space=space, parent=folder, name=name, trashed_at__isnull=True)
    if isinstance(exclude, File):
        files = files.exclude(pk=exclude.pk)
    elif isinstance(exclude, Folder):
        folders = folders.exclude(pk=exclude.pk)
    return files.exists() or folders.exists()


def free_name(space: Space, folder: Folder | None, name: str, exclude=None, rename: bool = False) -> str:
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
