"""multipart/form-data parsing in-process: strict names, and bad bodies store nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import RequestFactory

from strata.files import multipart
from strata.files.errors import FilesError

pytestmark = pytest.mark.django_db
BOUNDARY = "strataBOUNDARY123"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body_of(files: dict[str, bytes], fields: dict[str, str] | None = None) -> bytes:
    out = b""
    for name, value in (fields or {}).items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, data in files.items():
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


def request(body: bytes, content_type: str = CTYPE, length: int | None = None):
    req = RequestFactory().generic("POST", "/api/files/uploads/form", body, content_type=content_type)
    if length is not None:
        req.META["CONTENT_LENGTH"] = str(length)
    return req


def stored_keys() -> set[str]:
    root = settings.STRATA_FILES_LOCAL_ROOT
    return {p.name for p in root.glob("??/*")} if root.exists() else set()


def test_files_stream_to_storage_with_their_names_and_digests():
    import hashlib

    big = bytes(range(256)) * 1000
    fields, stored, _handler = multipart.parse(
        request(body_of({"a.bin": big, "b.txt": b"hello", "empty.txt": b""}, {"conflict": "rename"}))
    )
    assert fields["conflict"] == "rename"
    got = {o.name: o for o in stored}
    assert set(got) == {"a.bin", "b.txt", "empty.txt"}
    assert got["a.bin"].size == len(big)
    assert got["a.bin"].sha256 == hashlib.sha256(big).hexdigest()
    assert got["empty.txt"].size == 0
    assert {o.key for o in stored} <= stored_keys()


def test_names_are_kept_as_sent_so_traversal_is_refused_later():
    _fields, stored, handler = multipart.parse(request(body_of({"../evil.txt": b"evil"})))
    assert [o.name for o in stored] == ["../evil.txt"]  # Django would have cut it to "evil.txt"
    handler.discard()
    assert not {o.key for o in stored} & stored_keys()


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"garbage without parts", "multipart/form-data; boundary=nope", 400),
        (b"{}", "application/json", 415),
        (f"--{BOUNDARY}--\r\n".encode(), CTYPE, 400),  # no file at all
    ],
)
def test_malformed_bodies_are_refused(body, ctype, status):
    keys = stored_keys()
    with pytest.raises(FilesError) as info:
        multipart.parse(request(body, ctype))
    assert info.value.status == status
    assert str(info.value)
    assert stored_keys() == keys


def test_a_truncated_body_stores_nothing():
    keys = stored_keys()
    body = body_of({"cut.bin": b"x" * 200_000})
    half = body[: len(body) // 2]
    with pytest.raises(FilesError, match="cut short|malformed"):
        multipart.parse(request(half, length=len(body)))
    assert stored_keys() == keys
