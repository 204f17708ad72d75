"""Where file bytes live: the file server over S3, or (fallback) the app host's disk.

Both backends stream: bytes are read from the request in blocks and written on as they come, so a
worker never holds a whole file in memory or on its own disk.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from strata.deploy.roles.files import client as s3

from .errors import StorageUnavailable, TruncatedUpload

BLOCK = 256 * 1024


@dataclass
class Digest:
    size: int = 0
    sha256: str = ""


def stream_blocks(stream, length: int, digest: hashlib._Hash | None, counter: Digest) -> Iterator[bytes]:
    """Yield exactly LENGTH bytes from STREAM in blocks; raise TruncatedUpload if it ends early."""
    remaining = length
    while remaining > 0:
        block = stream.read(min(BLOCK, remaining))
        if not block:
            raise TruncatedUpload(f"the upload ended after {length - remaining} of {length} bytes")
        remaining -= len(block)
        counter.size += len(block)
        if digest is not None:
            digest.update(block)
        yield block


def content_disposition(filename: str, inline: bool = False) -> str:
    """Return an RFC 6266 header value that survives any file name."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


class S3Backend:
    name = "s3"
    accel_prefix = "/_files_s3"

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
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
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
    def save_stream(self, key: str, stream, length: int, content_type: str, part_size: int) -> Digest:
        """Store LENGTH bytes from STREAM under KEY, as multipart when large; return size and sha256."""
        digest, counter = hashlib.sha256(), Digest()
        if length <= part_size:
            url = self._presign("put_object", Key=key, ContentType=content_type)
            try:
                self._put_stream(
                    url,
                    stream_blocks(stream, length, digest, counter),
                    length,
                    {"Content-Type": content_type},
                )
            except Exception:
                self.delete(key)
                raise
        else:
            upload_id = self.begin(key, content_type)
            try:
                part, done = 1, 0
                while done < length:
                    n = min(part_size, length - done)
                    self._put_stream(
                        self._presign("upload_part", Key=key, UploadId=upload_id, PartNumber=part),
                        stream_blocks(stream, n, digest, counter),
                        n,
                    )
                    done += n
                    part += 1
                self.complete(key, upload_id)
            except Exception:
                self.abort(key, upload_id)
                raise
        counter.sha256 = digest.hexdigest()
        return counter

    # -- resumable uploads --------------------------------------------------------------------------
    def begin(self, key: str, content_type: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)[
            "UploadId"
        ]

    def put_part(self, key: str, upload_id: str, number: int, stream, length: int) -> None:
        url = self._presign("upload_part", Key=key, UploadId=upload_id, PartNumber=number)
        self._put_stream(url, stream_blocks(stream, length, None, Digest()), length)

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
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except self.client.exceptions.NoSuchUpload:
            pass

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

    def read(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        yield from body.iter_chunks(BLOCK)

    def keys(self) -> Iterator[tuple[str, object]]:
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
    accel_prefix = "/_files_local"

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

    def save_stream(self, key, stream, length, content_type, part_size) -> Digest:
        digest, counter = hashlib.sha256(), Digest()
        self._write(self._path(key), stream_blocks(stream, length, digest, counter))
        counter.sha256 = digest.hexdigest()
        return counter

    def _upload_dir(self, upload_id: str) -> Path:
        return self.root / "uploads" / upload_id

    def begin(self, key, content_type) -> str:
        upload_id = key
        self._upload_dir(upload_id).mkdir(parents=True, exist_ok=True)
        return upload_id

    def put_part(self, key, upload_id, number, stream, length) -> None:
        self._write(
            self._upload_dir(upload_id) / f"{number:05d}", stream_blocks(stream, length, None, Digest())
        )

    def parts(self, key, upload_id) -> dict[int, int]:
        d = self._upload_dir(upload_id)
        return {int(p.name): p.stat().st_size for p in d.iterdir() if p.name.isdigit()} if d.exists() else {}

    def complete(self, key, upload_id) -> None:
        d = self._upload_dir(upload_id)

        def blocks():
            for part in sorted(p for p in d.iterdir() if p.name.isdigit()):
                with open(part, "rb") as fh:
                    while block := fh.read(BLOCK):
                        yield block

        self._write(self._path(key), blocks())
        shutil.rmtree(d, ignore_errors=True)

    def abort(self, key, upload_id) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def size(self, key) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key) -> None:
        self._path(key).unlink(missing_ok=True)

    def read(self, key) -> Iterator[bytes]:
        with open(self._path(key), "rb") as fh:
            while block := fh.read(BLOCK):
                yield block

    def keys(self):
        import datetime as dt

        for path in self.root.glob("??/*"):
            if not path.name.endswith(".part"):
                yield path.name, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)

    def accel_redirect(self, key, filename, content_type, inline) -> str:
        return f"{self.accel_prefix}/{key[:2]}/{key}"


def check_file_server() -> None:
    """HEAD the app's bucket with the app's identity (the /healthz check of the files role)."""
    cfg = settings.CONFIG
    s3.app_client(cfg, settings.SECRETS, timeout=2).head_bucket(Bucket=cfg.roles["files"]["bucket"])


_backend = None


def backend() -> S3Backend | LocalBackend:
    global _backend
    if _backend is None:
        _backend = S3Backend() if settings.CONFIG.enabled("files") else LocalBackend()
    return _backend
