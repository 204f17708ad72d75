"""Uploads: one pipeline for the three flavours (a streamed PUT, multipart/form-data, resumable parts).

1. admit_upload() before any byte is read: permission, name, size and quota.
2. The bytes go to the store, cut into parts by storage.PartWriter (never whole in memory or on disk).
3. commit_upload() in one transaction: the same limits again under the person's lock, then the rows.
When anything fails after step 2 the objects are removed, so a failed upload leaves neither bytes nor rows.
"""

from __future__ import annotations

import hashlib
import io
import uuid

from django.db import transaction
from django.http import Http404

from strata.ops import metrics

from .. import access, storage
from ..errors import FilesError, QuotaExceeded, TruncatedUpload
from ..limits import max_upload_bytes, part_bytes
from ..models import AuditEvent, File, Folder, Space, Upload, UploadPart
from ..storage import HashingReader, StoredObject, backend
from ..tasks import compute_sha256
from .audit import audit
from .names import clean_name, free_name
from .spaces import check_quota, check_target, count_usage, lock_user, quota_bytes, used_bytes

DEFAULT_TYPE = "application/octet-stream"
# A multipart body is a little larger than the files in it (boundaries, part headers).
FORM_OVERHEAD = 64 * 1024


def check_size(length: int) -> None:
    """Raise unless LENGTH is a size a file may have (411 when missing or negative, 413 when too big)."""
    limit = max_upload_bytes()
    if length < 0:
        raise FilesError("The upload size is missing or negative.", 411)
    if length > limit:
        raise FilesError(f"Files are limited to {limit} bytes.", 413)


def admit_upload(
    user, space: Space, folder: Folder | None, size: int, name=None, *, rename: bool = False, slack: int = 0
) -> str | None:
    """Check an upload before its bytes are read: may USER write there, is NAME (when known) allowed and
    free, do SIZE bytes (up to SLACK more for a form's framing) fit the size limit and the quota.
    Return the cleaned name."""
    cleaned = clean_name(name) if name is not None else None
    check_target(user, space, folder)
    check_size(size)
    check_quota(user, size, slack=slack)
    if cleaned is not None:
        free_name(space, folder, cleaned, rename=rename)  # fail fast; commit_upload decides for good
    return cleaned


def admit_form_upload(user, space: Space, folder: Folder | None, body_length: int) -> None:
    """Check a multipart/form-data upload before reading its body: the body bounds the files' total size."""
    admit_upload(user, space, folder, body_length, slack=FORM_OVERHEAD)


def commit_upload(
    user,
    space: Space,
    folder: Folder | None,
    objects: list[StoredObject],
    *,
    rename: bool = False,
    address=None,
    reserved: Upload | None = None,
    **detail,
) -> list[File]:
    """Commit one row per stored object, all or none: the limits are checked again under the person's
    lock (RESERVED, a resumable upload, hands its reserved bytes over). On failure remove the objects."""
    try:
        check_target(user, space, folder)
        names = [clean_name(obj.name) for obj in objects]
        with transaction.atomic():
            lock_user(user)
            if reserved is not None:
                Upload.objects.filter(pk=reserved.pk).delete()
            check_quota(user, sum(obj.size for obj in objects))
            out = []
            for obj, name in zip(objects, names, strict=True):
                check_size(obj.size)
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
                audit(user, AuditEvent.UPLOAD, file=f, address=address, size=f.size, **detail)
                count_usage(user.pk, f.size)
                out.append(f)
        metrics.count_upload(sum(f.size for f in out))
    except BaseException:
        store = backend()
        for obj in objects:
            store.delete(obj.key)
        raise
    return out


def new_key() -> str:
    """Return a fresh random object key."""
    return uuid.uuid4().hex


# --- the flavours ------------------------------------------------------------------------------------


def upload_file(
    user,
    space: Space,
    folder: Folder | None,
    name,
    stream,
    length: int,
    content_type: str = DEFAULT_TYPE,
    rename: bool = False,
    address=None,
) -> File:
    """Store LENGTH bytes read from STREAM as a new file; the row exists only if the bytes do."""
    name = admit_upload(user, space, folder, length, name, rename=rename)
    content_type = content_type or DEFAULT_TYPE
    key = new_key()
    digest = backend().save_stream(key, stream, length, content_type, part_bytes())
    stored = StoredObject(name, key, digest.size, digest.sha256, content_type)
    return commit_upload(user, space, folder, [stored], rename=rename, address=address)[0]


def register_uploaded(
    user, space: Space, folder: Folder | None, stored: list, rename: bool = False, address=None
) -> list[File]:
    """Commit rows for objects already stored by a multipart request: all of them, or none (and no bytes)."""
    return commit_upload(user, space, folder, stored, rename=rename, address=address, form=True)


def begin_upload(
    user, space: Space, folder: Folder | None, name, size: int, content_type: str = DEFAULT_TYPE
) -> Upload:
    """Open a resumable upload; parts are then sent with put_upload_part."""
    name = admit_upload(user, space, folder, size, name, rename=True)
    key = new_key()
    with transaction.atomic():
        lock_user(user)
        check_quota(user, size)  # the declared size is reserved until the upload completes or is cancelled
        upload = Upload.objects.create(
            user=user,
            space=space,
            folder=folder,
            name=name,
            size=size,
            part_size=part_bytes(),
            content_type=content_type or DEFAULT_TYPE,
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
    """Return how many parts UPLOAD is sent in."""
    return storage.part_count(upload.size, upload.part_size)


def expected_part_size(upload: Upload, number: int) -> int:
    """Return the size part NUMBER of UPLOAD must have."""
    count = part_count(upload)
    if not 1 <= number <= count:
        raise FilesError(f"Part numbers run from 1 to {count}.")
    return storage.part_length(upload.size, upload.part_size, number)


def recheck_upload(upload: Upload) -> None:
    """Raise 403 (and cancel UPLOAD, freeing its reservation) unless its person may still write where it
    goes: a share withdrawn, or a folder trashed, since the upload began ends it."""
    try:
        check_target(upload.user, upload.space, upload.folder)
    except (Http404, FilesError):
        cancel_upload(upload)
        raise FilesError(
            "You may no longer upload into this folder (a share was withdrawn or the folder is in the "
            "trash), so the upload was cancelled.",
            403,
        ) from None


def put_upload_part(upload: Upload, number: int, stream, length: int) -> None:
    """Store part NUMBER of UPLOAD (LENGTH bytes from STREAM); refuse a part of the wrong size, or any
    part once its person may no longer write where it goes."""
    recheck_upload(upload)
    want = expected_part_size(upload, number)
    if length != want:
        raise FilesError(f"Part {number} must be {want} bytes, not {length}.")
    reader = HashingReader(stream)
    backend().put_part(upload.key, upload.backend_upload_id, number, reader, length)
    # Recorded once the file server holds the part: what a browser resuming after a reload compares.
    digest = reader.digest()
    UploadPart.objects.update_or_create(
        upload=upload, number=number, defaults={"size": digest.size, "sha256": digest.sha256}
    )


def upload_parts(upload: Upload) -> dict[int, int]:
    """Return {part number: size} of the parts of UPLOAD received so far."""
    return backend().parts(upload.key, upload.backend_upload_id)


def stored_parts(upload: Upload, parts: dict[int, int] | None = None) -> list[dict]:
    """Return [{number, size, sha256}] of the parts of UPLOAD the file server holds whole (PARTS, when
    given, is what upload_parts returned): a part counts only when the server's size, the size recorded
    with its checksum and the size it must have all agree."""
    held = upload_parts(upload) if parts is None else parts
    out = []
    for row in UploadPart.objects.filter(upload=upload).order_by("number"):
        try:
            want = expected_part_size(upload, row.number)
        except FilesError:
            continue
        if held.get(row.number) == row.size == want:
            out.append({"number": row.number, "size": row.size, "sha256": row.sha256})
    return out


def complete_upload(upload: Upload, rename: bool = True, address=None) -> File:
    """Join the parts into the object, then commit the file's row; refuse if a part is missing, or if
    its person may no longer write where it goes."""
    recheck_upload(upload)
    parts = upload_parts(upload)
    wanted = range(1, part_count(upload) + 1)
    missing = [n for n in wanted if parts.get(n) != expected_part_size(upload, n)]
    if missing:
        raise FilesError(f"Parts missing or incomplete: {', '.join(map(str, missing[:20]))}.")
    store = backend()
    if upload.size == 0:
        store.abort(upload.key, upload.backend_upload_id)
        store.save_stream(upload.key, io.BytesIO(b""), 0, upload.content_type, upload.part_size)
    else:
        store.complete(upload.key, upload.backend_upload_id)
    try:
        if store.size(upload.key) != upload.size:
            raise FilesError("The stored file does not have the announced size.")
    except BaseException:
        store.delete(upload.key)
        raise
    # The sha256 is computed by the worker, reading the object back.
    stored = StoredObject(upload.name, upload.key, upload.size, "", upload.content_type)
    f = commit_upload(
        upload.user,
        upload.space,
        upload.folder,
        [stored],
        rename=rename,
        address=address,
        reserved=upload,
        chunked=True,
    )[0]
    transaction.on_commit(lambda: compute_sha256.enqueue(f.pk))
    return f


def cancel_upload(upload: Upload) -> None:
    """Drop UPLOAD's parts and free the quota it reserved."""
    backend().abort(upload.key, upload.backend_upload_id)
    upload.delete()


# --- pushed uploads (WebDAV PUT): bytes handed over in pieces, length known or not ----------------------


class PushedUpload:
    """An upload whose bytes are handed over in pieces (a WebDAV PUT, with Content-Length or chunked):
    cut into parts by storage.PartWriter as they arrive (one part in memory at most), and refused as soon
    as they pass the size limit or the free quota, not only at the end. REPLACE, an existing file, gets
    the new content in place (its id, shares and links stay); otherwise a new file NAME is committed.
    finish() commits the row only once the object exists; abort() leaves neither bytes nor row."""

    def __init__(
        self,
        user,
        space: Space,
        folder: Folder | None,
        name,
        length: int | None,
        content_type: str = DEFAULT_TYPE,
        replace: File | None = None,
        address=None,
    ):
        self.user, self.space, self.folder, self.replace, self.address = user, space, folder, replace, address
        self.name = clean_name(name)
        check_target(user, space, folder)
        self.length = length
        # A person's own bytes being replaced are freed by the replacement.
        credit = replace.size if replace is not None and replace.created_by_id == user.pk else 0
        if length is not None:
            check_size(length)
            check_quota(user, length - credit)
        self.free = quota_bytes(user) - used_bytes(user) + credit
        if replace is None:
            free_name(space, folder, self.name)
        self.content_type = (content_type or DEFAULT_TYPE)[:255]
        self.key = new_key()
        self.size = 0
        self._sha256 = hashlib.sha256()
        self.writer = storage.PartWriter(backend(), self.key, self.content_type, part_bytes())
        self.sent: storage.Digest | None = None

    def write(self, data: bytes) -> None:
        """Take the next DATA; raise as soon as the bytes so far pass the size limit or the quota."""
        self.size += len(data)
        if self.length is not None and self.size > self.length:
            raise FilesError("The body is longer than its Content-Length.")
        check_size(self.size)
        if self.size > self.free:
            raise QuotaExceeded(f"This upload does not fit: only {max(self.free, 0)} bytes are free.")
        self._sha256.update(data)
        self.writer.write(data)

    def send(self, stream) -> None:
        """Take the whole body from STREAM when its length is known: the JSON API's streamed upload
        (backend().save_stream, parts pulled through without buffering), the limits already checked."""
        if self.length is None or self.size:
            raise ValueError("send() takes a whole body of known length")
        try:
            digest = backend().save_stream(self.key, stream, self.length, self.content_type, part_bytes())
        except BaseException:
            self.abort()
            raise
        self.size, self.sent = digest.size, digest

    def finish(self) -> File:
        """Store the last part, join the parts, then commit the row (or the new content of REPLACE)."""
        if self.length is not None and self.size != self.length:
            self.abort()
            raise TruncatedUpload(f"The upload ended after {self.size} of {self.length} bytes.")
        try:
            if self.sent is None:
                self.writer.close()
        except BaseException:
            self.abort()
            raise
        sha256 = self.sent.sha256 if self.sent is not None else self._sha256.hexdigest()
        stored = StoredObject(self.name, self.key, self.size, sha256, self.content_type)
        if self.replace is not None:
            return replace_content(self.user, self.replace, stored, address=self.address)
        return commit_upload(self.user, self.space, self.folder, [stored], address=self.address, dav=True)[0]

    def abort(self) -> None:
        """Drop whatever reached the store."""
        self.writer.abort()
        backend().delete(self.key)


def replace_content(user, f: File, stored: StoredObject, address=None) -> File:
    """Give F the content of STORED (an object already written) in place, under the person's lock: the
    same size and quota rules as a new upload, counted to USER; the old object is removed afterwards."""
    store = backend()
    try:
        with transaction.atomic():
            lock_user(user)
            f = File.objects.select_for_update(of=("self",)).select_related("space", "folder").get(pk=f.pk)
            access.require(user, f, access.RENAME, "You can read this file but not change it.")
            credit = f.size if f.created_by_id == user.pk else 0
            check_size(stored.size)
            check_quota(user, stored.size - credit)
            old_key = f.key
            count_usage(f.created_by_id, -f.size)
            count_usage(user.pk, stored.size)
            f.key, f.size, f.sha256 = stored.key, stored.size, stored.sha256
            f.content_type, f.created_by, f.missing_since = stored.content_type, user, None
            f.save()
            audit(user, AuditEvent.UPLOAD, file=f, address=address, size=f.size, replaced=True)
    except BaseException:
        store.delete(stored.key)
        raise
    store.delete(old_key)
    return f


def copy_file(
    user, f: File, space: Space, folder: Folder | None, name, address=None, replace: File | None = None
) -> File:
    """Copy F (which USER may read) as NAME into FOLDER (or the root of SPACE), or over the content of
    REPLACE: the file server copies the bytes, the copy counts to USER's quota."""
    access.require(user, f, access.DOWNLOAD)
    if replace is None:
        name = admit_upload(user, space, folder, f.size, name)
    key = new_key()
    backend().copy(f.key, key)
    stored = StoredObject(name or f.name, key, f.size, f.sha256, f.content_type)
    if replace is not None:
        return replace_content(user, replace, stored, address=address)
    return commit_upload(user, space, folder, [stored], address=address, copied_from=f.pk)[0]
