"""Without the files role: bytes on the app host's disk, served by nginx from there."""

from __future__ import annotations

import os

import pytest

from tests.integration.test_files import Api, _header_list
from tests.support import in_site
from tests.support.client import fetch
from tests.support.stack import add_people

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def carl(stack):
    add_people(stack, [{"username": "carl", "password": "pw-carl-fallback-2026"}])
    return Api(stack, "carl", "pw-carl-fallback-2026")


def test_fallback_upload_download_and_range(stack, carl):
    data = os.urandom(7 * 1024 * 1024 + 1)
    status, f = carl.put("local.bin", data)
    assert status == 201
    assert f["size"] == len(data)
    status, headers, body = carl.get(f"/files/file/{f['id']}/download")
    assert status == 200
    assert body == data
    assert "local.bin" in headers["Content-Disposition"]
    status, headers, body = carl.get(f"/files/file/{f['id']}/download", {"Range": "bytes=5-9"})
    assert status == 206
    assert body == data[5:10]
    stored = list((stack.config.var_dir / "data" / "files-local").glob("??/*"))
    assert any(p.stat().st_size == len(data) for p in stored)
    assert carl.get("/_files_local/")[0] == 404
    content = stack.call(in_site.setting, "STRATA_CONTENT_ORIGIN")
    assert (
        fetch(
            content + f"/_files_local/{stored[0].parent.name}/{stored[0].name}", stack.ca, carl.client.address
        )[0]
        == 404
    )


def test_fallback_chunked_upload(stack, carl):
    data = os.urandom(17 * 1024 * 1024 + 9)
    status, up = carl.json("POST", "/api/files/uploads/", {"name": "parts.bin", "size": len(data)})
    assert status == 201
    ps = up["part_size"]
    for n in range(1, up["parts"] + 1):
        assert (
            carl.raw("PUT", f"/api/files/uploads/{up['id']}/parts/{n}", data[(n - 1) * ps : n * ps])[0] == 200
        )
    status, f = carl.json("POST", f"/api/files/uploads/{up['id']}/complete")
    assert status == 201
    assert carl.get(f"/files/file/{f['id']}/download")[2] == data
    assert not list((stack.config.var_dir / "data" / "files-local" / "uploads").glob("*/*"))


def test_api_token_authenticates_and_revocation_ends_it(stack, carl):
    token = stack.call(in_site.issue_token_for, "carl", "t")
    anon = Api.__new__(Api)
    anon.stack, anon.client = stack, carl.client.__class__(stack.url, stack.ca)
    anon.host, anon.port = carl.host, carl.port
    status, _h, body = anon.raw("GET", "/api/files/", headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    assert b"spaces" in body
    status, _h, body = anon.raw(
        "PUT", "/api/files/uploads/put?name=via-token.txt", b"hello", {"Authorization": f"Bearer {token}"}
    )
    assert status == 201
    stack.call(in_site.revoke_tokens, "t")
    assert anon.raw("GET", "/api/files/", headers={"Authorization": f"Bearer {token}"})[0] == 401
    assert anon.raw("GET", "/api/files/", headers={"Authorization": "Bearer strata_nope"})[0] == 401


def test_fallback_downloads_carry_one_content_disposition_and_never_serve_html(stack, carl):
    """The local-disk fallback serves the same headers as the file server: one Content-Disposition,
    inline only for a type that cannot script, HTML as an application/octet-stream attachment."""
    import json

    for name, data, ctype, served, inline in (
        ("pic.png", b"\x89PNG\r\n\x1a\n" + os.urandom(64), "image/png", "image/png", True),
        ("page.html", b"<script>alert(1)</script>", "text/html", "application/octet-stream", False),
    ):
        status, _h, body = carl.raw(
            "PUT", f"/api/files/uploads/put?name={name}", data, {"Content-Type": ctype}
        )
        assert status == 201, body
        file_id = json.loads(body)["id"]
        status, headers, got = _header_list(carl, f"/files/file/{file_id}/download?inline=1")
        assert status == 200
        assert got == data
        dispositions = [v for k, v in headers if k.lower() == "content-disposition"]
        assert len(dispositions) == 1, headers
        assert dispositions[0].startswith("inline" if inline else "attachment")
        assert [v for k, v in headers if k.lower() == "content-type"] == [served], headers
        # From the content host, as with the file server.
        lowered = [(k.lower(), v) for k, v in headers]
        assert ("content-security-policy", "sandbox; default-src 'none'") in lowered
        assert ("x-content-type-options", "nosniff") in lowered
