"""Where file bytes live: the file server over S3, or (fallback) the app host's disk.

Both backends stream: bytes are read from the request in blocks and written on as they come, so a
worker never holds a whole file in memory or on its own disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import io
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

from strata.deploy.roles.files import client as s3
from strata.deploy.roles.files.spec import ACCEL_LOCAL_PREFIX, ACCEL_S3_PREFIX

from .errors import StorageUnavailable, TruncatedUpload

BLOCK = 256 * 1024
# An upload's body is read and sent on in blocks of this size: gunicorn reads ahead up to 1 MiB per recv(),
# so a 1 MiB read takes it whole (smaller reads re-copy its read-ahead buffer each time), and each block
# costs one hash update and one TLS write to the file server. One block per upload in memory.
UPLOAD_BLOCK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass
class Digest:
    size: int = 0
    sha256: str = ""


@dataclass
class StoredObject:
    """An object written to the store whose row is not committed yet (what an upload produced)."""

    name: str
    key: str
    size: int
    sha256: str
    content_type: str
    error: str = ""


class HashingReader:
    """Wrap STREAM so that what is read through it is counted and hashed (sha256)."""

    def __init__(self, stream: Readable):
        self.stream, self.size, self._sha256 = stream, 0, hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self.stream.read(size)
        self.size += len(data)
        self._sha256.update(data)
        return data

    def digest(self) -> Digest:
        return Digest(self.size, self._sha256.hexdigest())


def stream_blocks(stream: Readable, length: int) -> Iterator[bytes]:
    """Yield exactly LENGTH bytes from STREAM in blocks; raise TruncatedUpload if it ends early."""
    remaining = length
    while remaining > 0:
        block = stream.read(min(UPLOAD_BLOCK, remaining))
        if not block:
            raise TruncatedUpload(f"the upload ended after {length - remaining} of {length} bytes")
        remaining -= len(block)
        yield block


# --- parts: the one rule every upload path cuts its bytes by -------------------------------------------


def part_count(length: int, part_size: int) -> int:
    """Return how many parts LENGTH bytes make: full parts of PART_SIZE, then the rest (at least one)."""
    return max(1, -(-length // part_size))


def part_length(length: int, part_size: int, number: int) -> int:
    """Return the size of part NUMBER (from 1) of LENGTH bytes; raise ValueError outside 1..part_count."""
    count = part_count(length, part_size)
    if not 1 <= number <= count:
        raise ValueError(f"part numbers run from 1 to {count}")
    return part_size if number < count else length - part_size * (count - 1)


class PartWriter:
    """Write one object to STORE as consecutive parts of PART_SIZE bytes.

    Bytes are either pushed in pieces of any size (write(): a form parser's chunks, at most one part held
    in memory) or pulled from a stream of known length (send(): streamed through, nothing held). An
    object that fits in one part is stored with a single PUT; a larger one becomes a multipart upload,
    begun with its first full part and joined by close().
    """

    def __init__(self, store: StorageBackend, key: str, content_type: str, part_size: int):
        self.store, self.key, self.content_type, self.part_size = store, key, content_type, part_size
        self.upload_id: str | None = None
        self.parts = 0
        self.buffer = bytearray()

    def _put(self, stream: Readable, length: int) -> None:
        if self.upload_id is None:
            self.upload_id = self.store.begin(self.key, self.content_type)
        self.parts += 1
        self.store.put_part(self.key, self.upload_id, self.parts, stream, length)

    def write(self, data: bytes) -> None:
        """Take the next DATA; send each part as soon as it is full."""
        self.buffer += data
        while len(self.buffer) >= self.part_size:
            # One copy of the part (a bytearray slice would make a second); the view is released
            # before the buffer shrinks.
            with memoryview(self.buffer) as view:
                chunk = bytes(view[: self.part_size])
            del self.buffer[: self.part_size]
            self._put(io.BytesIO(chunk), len(chunk))

    def send(self, stream: Readable, length: int) -> None:
        """Send the next LENGTH bytes of STREAM as parts, without buffering them."""
        if self.buffer:
            raise ValueError("send() follows whole parts only")
        for number in range(1, part_count(length, self.part_size) + 1):
            self._put(stream, part_length(length, self.part_size, number))

    def close(self) -> None:
        """Store what is left and join the parts into the object."""
        rest, self.buffer = bytes(self.buffer), bytearray()
        if self.upload_id is None:
            self.store.save_stream(self.key, io.BytesIO(rest), len(rest), self.content_type, self.part_size)
            return
        if rest:
            self._put(io.BytesIO(rest), len(rest))
        upload_id, self.upload_id = self.upload_id, None
        self.store.complete(self.key, upload_id)

    def abort(self) -> None:
        """Drop the parts sent so far (nothing to do once closed)."""
        self.buffer = bytearray()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            self.store.abort(self.key, upload_id)


# --- backends ------------------------------------------------------------------------------------------


class StorageBackend(Protocol):
    """What the files app needs from where bytes live; S3Backend and LocalBackend implement it."""

    name: str
    accel_prefix: str

    def save_stream(
        self, key: str, stream: Readable, length: int, content_type: str, part_size: int
    ) -> Digest:
        """Store LENGTH bytes from STREAM under KEY; return their size and sha256."""
        ...

    def begin(self, key: str, content_type: str) -> str:
        """Open a multipart upload of KEY; return its upload id."""
        ...

    def put_part(self, key: str, upload_id: str, number: int, stream: Readable, length: int) -> None: ...

    def parts(self, key: str, upload_id: str) -> dict[int, int]:
        """Return {part number: size} of the parts received so far."""
        ...

    def complete(self, key: str, upload_id: str) -> None: ...

    def abort(self, key: str, upload_id: str) -> None: ...

    def size(self, key: str) -> int | None:
        """Return the object's size, or None when it does not exist."""
        ...

    def delete(self, key: str) -> None: ...

    def copy(self, source: str, key: str) -> None:
        """Store a copy of the object SOURCE under KEY (the bytes do not pass through the app)."""
        ...

    def read(self, key: str) -> Iterator[bytes]: ...

    def keys(self) -> Iterator[tuple[str, dt.datetime]]:
        """Yield (key, last modified) of every stored object."""
        ...

    def accel_redirect(self, key: str, filename: str, content_type: str, inline: bool) -> str:
        """Return the internal nginx URI that serves the object's bytes."""
        ...


# What a browser may show inline: types that cannot run script. Anything else is served as an
# attachment of type application/octet-stream, whatever the uploader claimed (an uploaded page never
# runs as the person who opens it).
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "application/pdf", "text/plain"}
)
INLINE_PREFIXES = ("audio/", "video/")


def served_as(content_type: str, inline: bool) -> tuple[str, bool]:
    """Return the Content-Type a file is served with and whether it may be inline (only when asked)."""
    base = content_type.split(";", 1)[0].strip().lower()
    safe = base in INLINE_TYPES or base.startswith(INLINE_PREFIXES)
    return (content_type if safe else "application/octet-stream"), inline and safe


def content_disposition(filename: str, inline: bool = False) -> str:
    """Return an RFC 6266 header value that survives any file name."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


class S3Backend:
    name = "s3"
    accel_prefix = ACCEL_S3_PREFIX

    def __init__(self):
        self.config, self.secrets = settings.CONFIG, settings.SECRETS
        self.bucket = self.config.roles["files"]["bucket"]
        self.expiry = self.config.roles["files"]["presign_seconds"]

    @property
    def client(self):
        return s3.app_client(self.config, self.secrets)

    def _put_stream(self, url: str, blocks: Iterator[bytes], length: int, headers: dict | None = None) -> str:
        """PUT the blocks to a presigned URL without buffering; return the ETag."""
        parts = urllib.parse.urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=60, context=s3.ssl_context(self.config)
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        try:
            conn.request(
                "PUT",
                f"{parts.path}?{parts.query}",
                body=blocks,
                headers={"Content-Length": str(length), **(headers or {})},
            )
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            raise StorageUnavailable(f"file server: {exc}") from exc
        finally:
            conn.close()
        if resp.status != 200:
            raise StorageUnavailable(f"file server answered {resp.status}: {body[:200]!r}")
        return resp.getheader("ETag", "")

    def _presign(self, op: str, **params) -> str:
        return self.client.generate_presigned_url(
            op, Params={"Bucket": self.bucket, **params}, ExpiresIn=self.expiry
        )

    # -- single request uploads --------------------------------------------------------------------
    def save_stream(
        self, key: str, stream: Readable, length: int, content_type: str, part_size: int
    ) -> Digest:
        """Store LENGTH bytes from STREAM under KEY, as multipart when large; return size and sha256."""
        reader = HashingReader(stream)
        if length <= part_size:
            url = self._presign("put_object", Key=key, ContentType=content_type)
            try:
                self._put_stream(url, stream_blocks(reader, length), length, {"Content-Type": content_type})
            except Exception:
                self.delete(key)
                raise
        else:
            writer = PartWriter(self, key, content_type, part_size)
            try:
                writer.send(reader, length)
                writer.close()
            except Exception:
                writer.abort()
                raise
        return reader.digest()

    # -- resumable uploads --------------------------------------------------------------------------
    def begin(self, key: str, content_type: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)[
            "UploadId"
        ]

    def put_part(self, key: str, upload_id: str, number: int, stream: Readable, length: int) -> None:
        url = self._presign("upload_part", Key=key, UploadId=upload_id, PartNumber=number)
        self._put_stream(url, stream_blocks(stream, length), length)

    def _listed_parts(self, key: str, upload_id: str) -> list[dict]:
        """Return every part the file server holds for the upload (list_parts pages through them)."""
        out, marker = [], 0
        while True:
            resp = self.client.list_parts(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            out += resp.get("Parts", [])
            if not resp.get("IsTruncated"):
                return out
            marker = resp["NextPartNumberMarker"]

    def parts(self, key: str, upload_id: str) -> dict[int, int]:
        """Return {part number: size} of the parts received so far."""
        return {p["PartNumber"]: p["Size"] for p in self._listed_parts(key, upload_id)}

    def complete(self, key: str, upload_id: str) -> None:
        parts = sorted(self._listed_parts(key, upload_id), key=lambda p: p["PartNumber"])
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
        )

    def abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    # -- objects --------------------------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        """Return the object's size, or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def copy(self, source: str, key: str) -> None:
        """Copy on the file server (copy_object: one request, up to 5 GiB, S3's limit for it)."""
        self.client.copy_object(
            Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source}
        )

    def read(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        yield from body.iter_chunks(BLOCK)

    def keys(self) -> Iterator[tuple[str, dt.datetime]]:
        """Yield (key, last modified) of every object in the bucket."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                yield obj["Key"], obj["LastModified"]

    def accel_redirect(self, key: str, filename: str, content_type: str, inline: bool) -> str:
        """Return the internal nginx URI that fetches the object from the file server."""
        url = self._presign(
            "get_object",
            Key=key,
            ResponseContentType=content_type,
            ResponseContentDisposition=content_disposition(filename, inline),
        )
        parts = urllib.parse.urlsplit(url)
        return f"{self.accel_prefix}{parts.path}?{parts.query}"


class LocalBackend:
    """The fallback: files on the app host's disk, served by nginx from there (single host only)."""

    name = "local"
    accel_prefix = ACCEL_LOCAL_PREFIX

    def __init__(self):
        self.root = Path(settings.STRATA_FILES_LOCAL_ROOT)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def _write(self, path: Path, blocks: Iterator[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        try:
            with open(tmp, "wb") as fh:
                for block in blocks:
                    fh.write(block)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def save_stream(
        self, key: str, stream: Readable, length: int, content_type: str, part_size: int
    ) -> Digest:
        reader = HashingReader(stream)
        self._write(self._path(key), stream_blocks(reader, length))
        return reader.digest()

    def _upload_dir(self, upload_id: str) -> Path:
        return self.root / "uploads" / upload_id

    def begin(self, key: str, content_type: str) -> str:
        upload_id = key
        self._upload_dir(upload_id).mkdir(parents=True, exist_ok=True)
        return upload_id

    def put_part(self, key: str, upload_id: str, number: int, stream: Readable, length: int) -> None:
        self._write(self._upload_dir(upload_id) / f"{number:05d}", stream_blocks(stream, length))

    def parts(self, key: str, upload_id: str) -> dict[int, int]:
        d = self._upload_dir(upload_id)
        return {int(p.name): p.stat().st_size for p in d.iterdir() if p.name.isdigit()} if d.exists() else {}

    def complete(self, key: str, upload_id: str) -> None:
        d = self._upload_dir(upload_id)

        def blocks():
            for part in sorted(p for p in d.iterdir() if p.name.isdigit()):
                with open(part, "rb") as fh:
                    while block := fh.read(BLOCK):
                        yield block

        self._write(self._path(key), blocks())
        shutil.rmtree(d, ignore_errors=True)

    def abort(self, key: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def copy(self, source: str, key: str) -> None:
        with open(self._path(source), "rb") as fh:
            self._write(self._path(key), iter(lambda: fh.read(BLOCK), b""))

    def read(self, key: str) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            while block := fh.read(BLOCK):
                yield block

    def keys(self) -> Iterator[tuple[str, dt.datetime]]:
        for path in self.root.glob("??/*"):
            if not path.name.endswith(".part"):
                yield path.name, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)

    def accel_redirect(self, key: str, filename: str, content_type: str, inline: bool) -> str:
        return f"{self.accel_prefix}/{key[:2]}/{key}"


def check_file_server() -> None:
    """HEAD the app's bucket with the app's identity (the /healthz check of the files role)."""
    cfg = settings.CONFIG
    s3.app_client(cfg, settings.SECRETS, timeout=2).head_bucket(Bucket=cfg.roles["files"]["bucket"])


_backend: StorageBackend | None = None


def backend() -> StorageBackend:
    """Return the process's backend: the file server when the files role is on, else the local disk."""
    global _backend
    if _backend is None:
        _backend = S3Backend() if settings.CONFIG.enabled("files") else LocalBackend()
    return _backend
