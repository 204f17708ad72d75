"""Files against the real stack: SeaweedFS (S3), nginx, gunicorn and PostgreSQL."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import time
import unicodedata
import urllib.parse

import pytest
from cryptography import x509

from strata.deploy.roles.files import client as s3
from tests.support import in_site
from tests.support.client import Client, fetch, follow
from tests.support.stack import add_people, drill
from tests.support.tls import served_certificate

pytestmark = pytest.mark.integration


class Api:
    """A logged-in person talking to the files API over HTTPS through nginx."""

    def __init__(self, stack, username, password):
        self.stack = stack
        self.client = Client(stack.url, stack.ca)
        resp = self.client.login(username, password)
        assert "/people/" in resp.url, f"login failed for {username}"
        u = urllib.parse.urlsplit(stack.url)
        self.host, self.port = u.hostname, u.port

    def raw(self, method, path, body=None, headers=None, body_iter=None, length=None, hang_up=False):
        """Send a request with full control of the body (streams, wrong lengths, truncation)."""
        ctx = ssl.create_default_context(cafile=str(self.stack.ca))
        conn = http.client.HTTPSConnection(self.host, self.port, context=ctx, timeout=60)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.client.jar)
        h = {
            "Cookie": cookie,
            "X-CSRFToken": self.client.cookie("csrftoken") or "",
            "Origin": self.stack.url,
            "Referer": self.stack.url + "/files/",
            **(headers or {}),
        }
        try:
            if body_iter is not None:
                conn.putrequest(method, path)
                for k, v in h.items():
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(length))
                conn.endheaders()
                for chunk in body_iter:
                    conn.send(chunk)
                if hang_up:
                    return None  # the connection closes with fewer bytes sent than announced
            else:
                conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict(resp.getheaders()), data
        finally:
            conn.close()

    def json(self, method, path, payload=None):
        status, _h, data = self.raw(
            method,
            path,
            json.dumps(payload).encode() if payload is not None else None,
            {"Content-Type": "application/json"},
        )
        return status, (json.loads(data) if data else {})

    def put(self, name, data: bytes, **params):
        q = urllib.parse.urlencode({"name": name, **params})
        status, _h, body = self.raw(
            "PUT", f"/api/files/uploads/put?{q}", data, {"Content-Type": "application/octet-stream"}
        )
        return status, json.loads(body) if body.startswith(b"{") else body

    def get(self, path, headers=None):
        """GET PATH; a download's redirect is followed to the content host as a browser does."""
        status, got, body = self.raw("GET", path, headers=headers)
        followed = follow(status, got.items(), self.stack.ca, self.client.address, headers)
        return (followed[0], dict(followed[1]), followed[2]) if followed else (status, got, body)


@pytest.fixture(scope="module")
def people(files_stack):
    add_people(
        files_stack,
        [{"username": n, "password": f"pw-{n}-files-2026"} for n in ("alice", "bob", "carol")],
        {"research": ["alice", "carol"]},
    )
    return {n: Api(files_stack, n, f"pw-{n}-files-2026") for n in ("alice", "bob", "carol")}


def objects(stack) -> set[str]:
    client = s3.admin_client(stack.config, stack.secrets)
    out = set()
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=stack.config.roles["files"]["bucket"]
    ):
        out |= {o["Key"] for o in page.get("Contents", [])}
    return out


def settled(stack, rows: int, keys: set[str], timeout: float = 20) -> bool:
    """Wait until the stack holds exactly ROWS file rows and KEYS objects (an aborted upload is cleaned up
    by the app server once it notices the client is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        if file_rows(stack) == rows and objects(stack) == keys:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def file_rows(stack) -> int:
    return stack.call(in_site.file_rows)


def test_upload_and_download_through_nginx_with_range(files_stack, people):
    alice = people["alice"]
    data = os.urandom(12 * 1024 * 1024 + 123)  # more than two 5 MiB parts: multipart on the server
    status, f = alice.put("report.bin", data)
    assert status == 201, f
    assert f["size"] == len(data)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    status, headers, body = alice.get(f"/files/file/{f['id']}/download")
    assert status == 200
    assert body == data
    assert "attachment" in headers["Content-Disposition"]
    assert "report.bin" in headers["Content-Disposition"]
    status, headers, body = alice.get(f"/api/files/files/{f['id']}/content", {"Range": "bytes=1000-1999"})
    assert status == 206
    assert body == data[1000:2000]
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    # The bytes live on the file server under a random key, the row in PostgreSQL.
    assert len([k for k in objects(files_stack) if len(k) == 32]) >= 1


def served_certificate_names(stack, sni: str) -> list[str]:
    """Return the DNS names of the certificate nginx serves for SNI (verified against the site CA)."""
    port = stack.config.roles["web"]["https_port"]
    cert = served_certificate("127.0.0.1", port, sni, cafile=str(stack.ca))
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def content_base(stack) -> str:
    """Return the content host's base URL."""
    return stack.call(in_site.setting, "STRATA_CONTENT_ORIGIN")


def test_internal_locations_are_not_reachable_from_outside(files_stack, people):
    alice = people["alice"]
    _, f = alice.put("secret.txt", b"top secret")
    content = content_base(files_stack)
    for path in (
        "/_files_s3/strata-files/",
        f"/_files_s3/{files_stack.config.roles['files']['bucket']}/x",
        "/_files_local/ab/abc",
    ):
        status, _h, body = alice.get(path)
        assert status == 404
        assert b"top secret" not in body
        status, _hl, body = fetch(content + path, files_stack.ca, alice.client.address)
        assert status == 404
        assert b"top secret" not in body


def test_bytes_come_from_the_content_host_only(files_stack, people):
    """The site redirects a download to a signed URL on the content host (its own certificate, its own
    origin); the site's cookies never go there and none come back; every answer there carries the sandbox
    CSP and nosniff; the URL works without a login, only for the object it names, and a forged or
    altered one is refused. The site's name answers no /c/ URL."""
    alice = people["alice"]
    _, f = alice.put("origin.txt", b"from the content host", conflict="rename")
    status, headers, _ = alice.raw("GET", f"/files/file/{f['id']}/download")
    assert status == 302
    location = headers["Location"]
    content = content_base(files_stack)
    assert content == f"https://content.localhost:{files_stack.config.roles['web']['https_port']}"
    assert location.startswith(content + "/c/")
    assert "no-store" in headers["Cache-Control"]
    # On the content host: no cookie needed (nor sent by a browser: the site's are host-only).
    assert alice.client.cookie("sessionid")
    assert not any(c.domain_specified for c in alice.client.jar)
    status, got, body = fetch(location, files_stack.ca, alice.client.address)
    assert (status, body) == (200, b"from the content host")
    h = [(k.lower(), v) for k, v in got]
    assert ("content-security-policy", "sandbox; default-src 'none'") in h
    assert ("x-content-type-options", "nosniff") in h
    assert not [k for k, _ in h if k == "set-cookie"]
    assert [v for k, v in h if k == "content-disposition"] == [
        "attachment; filename=\"origin.txt\"; filename*=UTF-8''origin.txt"
    ]
    # Its certificate names the content host (and is the site CA's).
    sni = urllib.parse.urlsplit(content).hostname
    assert sni in served_certificate_names(files_stack, sni)
    # An altered token, or the same path on the site's name: refused, with the sandbox CSP on the refusal.
    token = location.rsplit("/", 1)[1]
    status, got, body = fetch(f"{content}/c/{token[:-2]}xx", files_stack.ca, alice.client.address)
    assert status == 403
    assert b"not valid" in body
    assert ("content-security-policy", "sandbox; default-src 'none'") in [(k.lower(), v) for k, v in got]
    assert alice.raw("GET", f"/c/{token}")[0] == 404
    # The content host serves nothing but /c/ URLs: not the site's pages, nor its login.
    for path in ("/", "/files/", "/accounts/login/", f"/files/file/{f['id']}/download"):
        assert fetch(content + path, files_stack.ca, alice.client.address)[0] == 404


def test_an_expired_content_url_is_refused(files_stack, people):
    """A content URL older than its 5 minutes answers 410 with a plain message."""
    alice = people["alice"]
    _, f = alice.put("late.txt", b"too late", conflict="rename")
    url = files_stack.call(in_site.content_url_signed_at, f["id"], -301)
    status, _h, body = fetch(url, files_stack.ca, alice.client.address)
    assert status == 410
    assert b"expired" in body
    url = files_stack.call(in_site.content_url_signed_at, f["id"], -200)
    assert fetch(url, files_stack.ca, alice.client.address)[:3:2] == (200, b"too late")


def test_chunked_resumable_upload(files_stack, people):
    alice = people["alice"]
    data = os.urandom(11 * 1024 * 1024 + 5)
    status, up = alice.json("POST", "/api/files/uploads/", {"name": "big.iso", "size": len(data)})
    assert status == 201
    assert up["parts"] == 3
    ps = up["part_size"]
    # Part 2 first, then an interruption; the status says what arrived, the rest resumes.
    assert alice.raw("PUT", f"/api/files/uploads/{up['id']}/parts/2", data[ps : 2 * ps])[0] == 200
    status, info = alice.json("GET", f"/api/files/uploads/{up['id']}")
    assert info["received"] == [2]
    # Completing too early is refused and keeps the upload resumable.
    status, err = alice.json("POST", f"/api/files/uploads/{up['id']}/complete")
    assert status == 400
    assert "1, 3" in err["error"]
    # A part with the wrong size is refused before the bytes are stored.
    assert alice.raw("PUT", f"/api/files/uploads/{up['id']}/parts/1", data[:100])[0] == 400
    for n in (1, 3):
        assert (
            alice.raw("PUT", f"/api/files/uploads/{up['id']}/parts/{n}", data[(n - 1) * ps : n * ps])[0]
            == 200
        )
    status, f = alice.json("POST", f"/api/files/uploads/{up['id']}/complete")
    assert status == 201
    assert f["size"] == len(data)
    assert alice.get(f"/files/file/{f['id']}/download")[2] == data
    # The worker fills in the sha256 of a chunked upload from the stored object.
    deadline = time.monotonic() + 30
    while alice.json("GET", f"/api/files/files/{f['id']}")[1]["sha256"] != hashlib.sha256(data).hexdigest():
        assert time.monotonic() < deadline, "sha256 of the chunked upload was not computed"
        time.sleep(0.5)
    # Another person cannot touch someone else's upload.
    assert people["bob"].json("GET", f"/api/files/uploads/{up['id']}")[0] == 404


def test_failed_uploads_leave_no_row_and_no_object(files_stack, people):
    alice = people["alice"]
    before_rows, before_objects = file_rows(files_stack), objects(files_stack)
    # Truncated body: announce 4 MiB, send 1 MiB and hang up.
    alice.raw(
        "PUT",
        "/api/files/uploads/put?name=cut.bin",
        body_iter=[b"x" * (1024 * 1024)],
        length=4 * 1024 * 1024,
        hang_up=True,
    )
    assert settled(files_stack, before_rows, before_objects)
    # A chunked body (no Content-Length from the client) is refused, or stored whole if the web tier
    # learned its length; never stored short.
    status, _h, body = alice.raw(
        "PUT",
        "/api/files/uploads/put?name=chunked.bin",
        headers={"Transfer-Encoding": "chunked"},
        body=b"5\r\nhello\r\n0\r\n\r\n",
    )
    assert status in (411, 201), body
    if status == 201:
        f = json.loads(body)
        assert f["size"] == 5
        assert alice.get(f"/files/file/{f['id']}/download")[2] == b"hello"
        alice.json("DELETE", f"/api/files/files/{f['id']}")
        return
    assert settled(files_stack, before_rows, before_objects)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../evil", 400),
        ("a/b", 400),
        ("a\\b", 400),
        ("nul\x00byte", 400),
        ("bell\x07", 400),
        ("..", 400),
        (".", 400),
        ("x" * 256, 400),
        ("é" * 128, 400),
        ("", 400),
        ("  ", 400),
        (" lead", 400),
    ],
)
def test_bad_names_are_refused(files_stack, people, name, status):
    before = file_rows(files_stack)
    got, body = people["alice"].put(name, b"data")
    assert got == status, body
    assert "error" in body
    assert body["error"]
    assert file_rows(files_stack) == before


def test_unicode_names_nfc_and_nfd_collide_and_conflicts(files_stack, people):
    alice = people["alice"]
    nfc = unicodedata.normalize("NFC", "Résumé.txt")
    nfd = unicodedata.normalize("NFD", "Résumé.txt")
    assert nfc != nfd
    status, f = alice.put(nfd, b"one")
    assert status == 201
    assert f["name"] == nfc
    status, err = alice.put(nfc, b"two")
    assert status == 409
    assert "already exists" in err["error"]
    status, f2 = alice.put(nfc, b"two", conflict="rename")
    assert status == 201
    assert f2["name"] == "Résumé (2).txt"
    status, f3 = alice.put("empty.txt", b"")
    assert status == 201
    assert f3["size"] == 0
    assert alice.get(f"/files/file/{f3['id']}/download")[:3:2] == (200, b"")


def test_quota_and_size_limits_refuse_before_storing(files_stack, people):
    bob = people["bob"]
    files_stack.call(in_site.set_quota, "bob", 1000)
    before = objects(files_stack)
    status, err = bob.put("too-big.bin", b"x" * 1001)
    assert status == 413
    assert "free" in err["error"]
    status, err = bob.json("POST", "/api/files/uploads/", {"name": "huge", "size": 5000})
    assert status == 413
    assert bob.put("fits.bin", b"x" * 1000)[0] == 201
    assert bob.put("one-more.bin", b"y")[0] == 413
    limit = files_stack.config.roles["files"]["max_upload_mb"] * 1024 * 1024
    status, err = bob.json("POST", "/api/files/uploads/", {"name": "huge", "size": limit + 1})
    assert status == 413
    assert "limited" in err["error"]
    assert len(objects(files_stack) - before) == 1


def test_permissions_both_directions_and_sharing(files_stack, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    _, f = alice.put("plan.txt", b"the plan")
    # Bob cannot see, download, rename or share Alice's file: 404, never a hint that it exists.
    for method, path, payload in (
        ("GET", f"/api/files/files/{f['id']}", None),
        ("GET", f"/api/files/files/{f['id']}/content", None),
        ("PATCH", f"/api/files/files/{f['id']}", {"name": "mine.txt"}),
        ("POST", f"/api/files/files/{f['id']}/shares", {"username": "bob"}),
        ("DELETE", f"/api/files/files/{f['id']}", None),
    ):
        assert bob.json(method, path, payload)[0] == 404, (method, path)
    assert bob.get(f"/files/file/{f['id']}/download")[0] == 404
    # Sharing with an unknown person is refused clearly.
    status, err = alice.json("POST", f"/api/files/files/{f['id']}/shares", {"username": "nobody"})
    assert status == 404
    assert "nobody" in err["error"]
    # Read share: Bob reads, cannot write.
    assert (
        alice.json("POST", f"/api/files/files/{f['id']}/shares", {"username": "bob", "permission": "read"})[0]
        == 201
    )
    assert bob.get(f"/api/files/files/{f['id']}/content")[2] == b"the plan"
    assert bob.json("PATCH", f"/api/files/files/{f['id']}", {"name": "x.txt"})[0] == 403
    # Write share: Bob may rename.
    alice.json("POST", f"/api/files/files/{f['id']}/shares", {"username": "bob", "permission": "write"})
    assert (
        bob.json("PATCH", f"/api/files/files/{f['id']}", {"name": "plan-v2.txt"})[1]["name"] == "plan-v2.txt"
    )
    # Group space: Carol (same group) sees Alice's upload there, Bob (not a member) does not.
    status, spaces = alice.json("GET", "/api/files/")
    group_space = next(s for s in spaces["spaces"] if s["kind"] == "group")
    status, gf = alice.put("team.txt", b"team notes", space=group_space["id"])
    assert status == 201
    assert carol.get(f"/api/files/files/{gf['id']}/content")[2] == b"team notes"
    assert bob.get(f"/api/files/files/{gf['id']}/content")[0] == 404
    assert bob.json("GET", f"/api/files/spaces/{group_space['id']}/")[0] == 404
    # Folder share covers what is inside.
    status, folder = alice.json("POST", "/api/files/folders", {"name": "Shared folder"})
    _, inner = alice.put("inner.txt", b"inside", folder=folder["id"])
    alice.json(
        "POST", f"/api/files/folders/{folder['id']}/shares", {"group": "research", "permission": "read"}
    )
    assert carol.get(f"/api/files/files/{inner['id']}/content")[2] == b"inside"
    # Search finds only what one may read.
    assert [x["name"] for x in carol.json("GET", "/api/files/search?q=inner")[1]["files"]] == ["inner.txt"]
    assert bob.json("GET", "/api/files/search?q=inner")[1]["files"] == []


def test_trash_restore_and_empty(files_stack, people):
    alice = people["alice"]
    _, f = alice.put("old.txt", b"old data")
    key = files_stack.call(in_site.file_key, f["id"])
    assert alice.json("DELETE", f"/api/files/files/{f['id']}")[0] == 204
    assert alice.get(f"/api/files/files/{f['id']}/content")[0] == 404
    assert alice.json("POST", f"/api/files/files/{f['id']}/restore")[0] == 200
    assert alice.get(f"/api/files/files/{f['id']}/content")[2] == b"old data"
    alice.json("DELETE", f"/api/files/files/{f['id']}")
    status, spaces = alice.json("GET", "/api/files/")
    mine = next(s for s in spaces["spaces"] if s["kind"] == "personal")
    status, body = alice.json("POST", f"/api/files/spaces/{mine['id']}/trash/empty")
    assert status == 200
    assert body["purged"] >= 1
    assert key not in objects(files_stack)
    assert alice.json("POST", f"/api/files/files/{f['id']}/restore")[0] == 404


def test_the_folder_page_shows_a_change_on_every_app_server(files_stack, people):
    """The first page of a folder's rows and the folder itself are kept by each app process
    (strata.site.live): an upload and a rename inside it, a rename or the trash of the folder, drop those
    copies everywhere, by the NOTIFY of their commit."""
    alice = people["alice"]
    status, folder = alice.json("POST", "/api/files/folders", {"name": "Live rows"})
    assert status == 201, folder
    _, first = alice.put("first.txt", b"1", folder=folder["id"])
    page = f"/files/folder/{folder['id']}/"

    def bodies() -> list[bytes]:
        # Enough requests for nginx to reach every app server and several of their workers.
        return [alice.raw("GET", page)[2] for _ in range(8)]

    assert all(b"first.txt" in b and b"second.txt" not in b for b in bodies())
    assert alice.put("second.txt", b"2", folder=folder["id"])[0] == 201
    assert alice.json("PATCH", f"/api/files/files/{first['id']}", {"name": "renamed.txt"})[0] == 200
    time.sleep(0.5)  # the notifications' delivery (milliseconds on one machine)
    for body in bodies():
        assert b"second.txt" in body, body[-2000:]
        assert b"renamed.txt" in body
        assert b"first.txt" not in body
    # The folder itself (kept with its space and parents for the permission check): renamed, then trashed.
    assert alice.json("PATCH", f"/api/files/folders/{folder['id']}", {"name": "Live rows 2"})[0] == 200
    time.sleep(0.5)
    assert all(b"Live rows 2" in body for body in bodies())
    assert alice.json("DELETE", f"/api/files/folders/{folder['id']}")[0] == 204
    time.sleep(0.5)
    assert {alice.raw("GET", page)[0] for _ in range(8)} == {410}


def test_public_links_expiry_password_and_limit(files_stack, people):
    alice = people["alice"]
    _, f = alice.put(
        "flyer.pdf",
        b"%PDF-1.4 flyer",
    )
    status, link = alice.json(
        "POST", f"/api/files/files/{f['id']}/links", {"max_downloads": 2, "password": "s3same-pw"}
    )
    assert status == 201
    path = urllib.parse.urlsplit(link["url"]).path
    anon = Client(files_stack.url, files_stack.ca)
    assert "password" in anon.get(path).text
    assert anon.post(path, {"password": "wrong"}).status == 403
    ok = anon.post(path, {"password": "s3same-pw"})
    assert ok.status == 200
    assert ok.text == "%PDF-1.4 flyer"
    assert anon.post(path, {"password": "s3same-pw"}).status == 200
    assert anon.post(path, {"password": "s3same-pw"}).status == 410  # download limit reached
    # Expired link: 410.
    status, link2 = alice.json("POST", f"/api/files/files/{f['id']}/links", {"expires_in_days": 1})
    token = urllib.parse.urlsplit(link2["url"]).path.rsplit("/", 1)[-1]
    files_stack.call(in_site.expire_link, token)
    assert anon.get(f"/s/{token}?download=1").status == 410
    assert anon.get("/s/not-a-real-token").status == 404
    status, err = alice.json("POST", f"/api/files/files/{f['id']}/links", {"expires_in_days": 0})
    assert status == 400


def test_missing_object_is_reported_and_reconcile_cleans_up(files_stack, people):
    alice = people["alice"]
    _, f = alice.put("fragile.txt", b"soon gone")
    key = files_stack.call(in_site.file_key, f["id"])
    admin = s3.admin_client(files_stack.config, files_stack.secrets)
    bucket = files_stack.config.roles["files"]["bucket"]
    admin.delete_object(Bucket=bucket, Key=key)
    status, _h, body = alice.get(f"/files/file/{f['id']}/download")
    assert status == 410
    assert b"missing" in body
    # An object without a row (older than the grace period) is an orphan that reconcile removes.
    admin.put_object(Bucket=bucket, Key="0" * 32, Body=b"orphan")
    # An upload left unfinished holds quota until reconcile cancels it.
    status, up = alice.json("POST", "/api/files/uploads/", {"name": "abandoned.bin", "size": 10})
    assert status == 201
    out = files_stack.ctx().manage("files_reconcile", "--grace-hours", "0", "--delete")
    assert "1 abandoned upload(s) cancelled" in out
    assert alice.json("GET", f"/api/files/uploads/{up['id']}")[0] == 404
    assert "orphan" in out
    assert f"missing rows: {f['id']}" in out
    assert "0" * 32 not in objects(files_stack)


def test_healthz_reports_the_file_server(files_stack):
    from strata.deploy.roles.app.client import get_healthz

    inst = files_stack.config.app_instances()[0]
    body = get_healthz(inst.host.address, inst.port)
    assert body["checks"]["files"]["ok"] is True
    assert body["checks"]["files"]["critical"] is False


def test_audit_trail_records_uploads_downloads_and_link_access(files_stack, people):
    alice = people["alice"]
    _, f = alice.put("audited.txt", b"watched", conflict="rename")
    alice.get(f"/files/file/{f['id']}/download")
    alice.json("POST", f"/api/files/files/{f['id']}/shares", {"username": "bob"})
    _, link = alice.json("POST", f"/api/files/files/{f['id']}/links", {})
    Client(files_stack.url, files_stack.ca).get(urllib.parse.urlsplit(link["url"]).path + "?download=1")
    alice.json("DELETE", f"/api/files/files/{f['id']}")
    actions = files_stack.call(in_site.audit_actions, "audited.txt")
    for action in ("upload", "download", "share", "link-create", "link-access", "delete"):
        assert action in actions, action


def multipart_body(files: dict[str, bytes], boundary: str = "strataBOUNDARY123") -> tuple[bytes, str]:
    out = b""
    for name, data in files.items():
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_multipart_form_upload_streams_and_bad_bodies_store_nothing(files_stack, people):
    carol = people["carol"]
    big = os.urandom(11 * 1024 * 1024 + 7)  # several parts on the file server
    body, ctype = multipart_body({"a.bin": big, "b.txt": b"hello", "empty.txt": b""})
    status, _h, data = carol.raw(
        "POST", "/api/files/uploads/form?conflict=rename", body, {"Content-Type": ctype}
    )
    assert status == 201, data
    got = {f["name"]: f for f in json.loads(data)["files"]}
    assert got["a.bin"]["size"] == len(big)
    assert got["a.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert carol.get(f"/files/file/{got['a.bin']['id']}/download")[2] == big
    assert got["empty.txt"]["size"] == 0

    before_rows, before_objects = file_rows(files_stack), objects(files_stack)
    # Malformed: a boundary that never appears in the body.
    status, _h, data = carol.raw(
        "POST",
        "/api/files/uploads/form",
        b"garbage without parts",
        {"Content-Type": "multipart/form-data; boundary=nope"},
    )
    assert 400 <= status < 500
    # A bad name inside an otherwise good body: nothing of the request is kept.
    body, ctype = multipart_body({"fine.txt": b"fine", "../evil.txt": b"evil"})
    status, _h, data = carol.raw("POST", "/api/files/uploads/form", body, {"Content-Type": ctype})
    assert status == 400, data
    # Truncated: announce the whole body, send half of it, hang up.
    body, ctype = multipart_body({"cut.bin": os.urandom(8 * 1024 * 1024)})
    carol.raw(
        "POST",
        "/api/files/uploads/form",
        headers={"Content-Type": ctype},
        body_iter=[body[: len(body) // 2]],
        length=len(body),
        hang_up=True,
    )
    # Not multipart at all.
    status, _h, _d = carol.raw("POST", "/api/files/uploads/form", b"{}", {"Content-Type": "application/json"})
    assert status == 415
    assert settled(files_stack, before_rows, before_objects)


def test_session_writes_need_the_csrf_header(files_stack, people):
    alice = people["alice"]
    status, _h, body = alice.raw(
        "PUT",
        "/api/files/uploads/put?name=nocsrf.txt",
        b"x",
        {"X-CSRFToken": "", "Content-Type": "text/plain"},
    )
    assert status == 403
    assert b"CSRF" in body
    assert alice.raw("GET", "/api/files/", headers={"X-CSRFToken": ""})[0] == 200


def test_usage_counter_matches_a_recount(files_stack, people):
    counters = files_stack.call(in_site.usage_before_and_after_recount)
    assert counters["before"] == counters["after"], counters


def test_removing_a_share_and_revoking_a_link_end_access(files_stack, people):
    alice, bob = people["alice"], people["bob"]
    _, f = alice.put("temporary.txt", b"for a while", conflict="rename")
    status, share = alice.json("POST", f"/api/files/files/{f['id']}/shares", {"username": "bob"})
    assert bob.get(f"/api/files/files/{f['id']}/content")[0] == 200
    assert bob.json("DELETE", f"/api/files/shares/{share['id']}")[0] == 403  # only the owner
    assert alice.json("DELETE", f"/api/files/shares/{share['id']}")[0] == 204
    assert bob.get(f"/api/files/files/{f['id']}/content")[0] == 404
    _, link = alice.json("POST", f"/api/files/files/{f['id']}/links", {})
    anon = Client(files_stack.url, files_stack.ca)
    path = urllib.parse.urlsplit(link["url"]).path
    assert anon.get(path + "?download=1").status == 200
    assert alice.json("DELETE", f"/api/files/links/{link['id']}")[0] == 204
    assert anon.get(path + "?download=1").status == 404


def _header_list(api: Api, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """GET PATH and return every header as sent, duplicates included."""
    ctx = ssl.create_default_context(cafile=str(api.stack.ca))
    conn = http.client.HTTPSConnection(api.host, api.port, context=ctx, timeout=60)
    try:
        conn.request(
            "GET", path, headers={"Cookie": "; ".join(f"{c.name}={c.value}" for c in api.client.jar)}
        )
        resp = conn.getresponse()
        status, headers, body = resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()
    return follow(status, headers, api.stack.ca, api.client.address) or (status, headers, body)


def test_downloads_carry_one_content_disposition_and_never_serve_html(files_stack, people):
    """Chromium refuses a response with two Content-Disposition headers ("Open in the browser" failed):
    the person gets the app's only. Inline only for types that cannot script; an upload that claims to be
    HTML comes back as an application/octet-stream attachment."""
    alice = people["alice"]
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    page = b"<script>alert(document.cookie)</script>"
    uploaded = {}
    for name, data, ctype in (("pic.png", png, "image/png"), ("page.html", page, "text/html")):
        status, _h, body = alice.raw(
            "PUT", f"/api/files/uploads/put?name={name}", data, {"Content-Type": ctype}
        )
        assert status == 201, body
        uploaded[name] = json.loads(body)["id"]
    for name, data in (("pic.png", png), ("page.html", page)):
        for query in ("", "?inline=1"):
            status, headers, body = _header_list(alice, f"/files/file/{uploaded[name]}/download{query}")
            assert status == 200
            assert body == data
            dispositions = [v for k, v in headers if k.lower() == "content-disposition"]
            types = [v for k, v in headers if k.lower() == "content-type"]
            assert len(dispositions) == 1, headers
            assert len(types) == 1, headers
            inline = name == "pic.png" and query
            assert dispositions[0].startswith("inline" if inline else "attachment"), dispositions
            assert types[0] == ("image/png" if name == "pic.png" else "application/octet-stream"), types
            assert ("x-content-type-options", "nosniff") in [(k.lower(), v) for k, v in headers]


def test_strata_drill_files_down(files_stack, people, tmp_path):
    result = drill(files_stack, tmp_path, "files-down", seconds=2)["files-down"]
    # Each upload while the file server was down: a 503 with a message, and no row left behind.
    assert (result["measured"]["unclean_errors"], result["measured"]["orphan_rows"]) == (0, 0)
    assert (result["measured"]["missing_rows"], result["measured"]["failed_after"]) == (0, 0)
