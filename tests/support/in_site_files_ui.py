"""Functions the files UI browser tests run inside the stack's Django (through Stack.call): set-up a person
could do by clicking too, done here so each test clicks only what it is about. JSON in, JSON out; the
site's code is imported inside each function (Django is not set up in the test process)."""

from __future__ import annotations

from typing import Any


def shared_folders(owner: str, grantee: str, files: dict[str, str]) -> dict[str, Any]:
    """Make, in OWNER's space, the folders "Read only" and "Writable", each holding FILES ({name: text}),
    shared with GRANTEE for reading and for writing; return their ids and their files' ids."""
    import io

    from django.contrib.auth.models import User

    from strata.files import actions

    o = User.objects.get(username=owner)
    space = actions.personal_space(o)
    out: dict[str, Any] = {}
    for name, permission in (("Read only", "read"), ("Writable", "write")):
        folder = actions.create_folder(o, space, None, name)
        ids = {}
        for fname, text in files.items():
            data = text.encode()
            ids[fname] = actions.upload_file(o, space, folder, fname, io.BytesIO(data), len(data)).id
        actions.share(o, folder, username=grantee, permission=permission)
        out[permission] = {"folder": folder.id, "files": ids}
    return out


def file_state(name: str) -> dict[str, Any] | None:
    """Return where the live file NAME is ({space, folder: name or None, sha256 of its bytes}), or None."""
    import hashlib

    from strata.files.models import File
    from strata.files.storage import backend

    f = File.objects.filter(name=name, trashed_at__isnull=True).select_related("folder").first()
    if f is None:
        return None
    digest = hashlib.sha256()
    for block in backend().read(f.key):
        digest.update(block)
    return {"space": f.space_id, "folder": f.folder.name if f.folder else None, "sha256": digest.hexdigest()}


def rows_named(name: str) -> dict[str, int]:
    """Return how many file rows called NAME exist, live and in the trash."""
    from strata.files.models import File

    rows = File.objects.filter(name=name)
    return {
        "live": rows.filter(trashed_at__isnull=True).count(),
        "trash": rows.exclude(trashed_at=None).count(),
    }
