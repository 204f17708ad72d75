"""P3 measures: one file uploaded in a single request through the app vs boto3's multipart upload of it,
one stream each, the same part size; and the pieces of the app's path measured apart.

Used by bench.run (one stack for every benchmark); nothing here starts a stack.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
import urllib.parse
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from strata.deploy.roles.files import client as s3

MiB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as fh:
        for _ in range(size // MiB):
            fh.write(block)


def put_file(url: str, source: Path, headers: dict[str, str], ca: Path | None = None) -> tuple[float, dict]:
    """PUT SOURCE's bytes to URL in one request (http.client streams the file in 1 MiB reads); return
    (seconds, the JSON answer). Raise on any status but 201."""
    u = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=str(ca))
        conn = http.client.HTTPSConnection(u.hostname or "", u.port, context=ctx, timeout=600, blocksize=MiB)
    else:
        conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=600, blocksize=MiB)
    size = source.stat().st_size
    try:
        with open(source, "rb") as fh:
            t0 = time.perf_counter()
            conn.request(
                "PUT",
                f"{u.path}?{u.query}",
                body=fh,
                headers={
                    **headers,
                    "Content-Length": str(size),
                    "Content-Type": "application/octet-stream",
                },
            )
            resp = conn.getresponse()
            body = resp.read()
            took = time.perf_counter() - t0
    finally:
        conn.close()
    if resp.status != 201:
        raise RuntimeError(f"PUT {u.path}: {resp.status} {body[:200]!r}")
    return took, json.loads(body)


def boto3_one_stream(stack, source: Path, key: str) -> float:
    """Upload SOURCE straight to SeaweedFS with boto3's multipart upload: the site's part size, one thread
    (one stream, as the single request through the app); return seconds. The object is deleted after."""
    part = stack.config.roles["files"]["part_mb"] * MiB
    client = s3.app_client(stack.config, stack.secrets, timeout=60)
    bucket = stack.config.roles["files"]["bucket"]
    cfg = TransferConfig(
        multipart_threshold=part, multipart_chunksize=part, max_concurrency=1, use_threads=False
    )
    t0 = time.perf_counter()
    client.upload_file(str(source), bucket, key, Config=cfg)
    took = time.perf_counter() - t0
    client.delete_object(Bucket=bucket, Key=key)
    return took
