"""WebDAV at /dav/ against the real stack (nginx, two app servers, SeaweedFS, PostgreSQL), driven by real
clients: the litmus suite, rclone and cadaver, plus the bad input of issue 12.

litmus and cadaver are built on neon, which trusts only the system's CA store: they reach the stack
through tests/support/tls_relay.py (plain on loopback, then TLS verified against the stack's CA). davfs2
(neon too) is told the stack's CA in its own config and mounts the drive through FUSE (root, as the
integration tier runs).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import ssl
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from strata.deploy.roles.files import client as s3
from tests.support import in_site
from tests.support.client import Client
from tests.support.stack import IN_CI, add_people
from tests.support.tls_relay import tls_relay

pytestmark = pytest.mark.integration

PASSWORDS = {n: f"pw-{n}-dav-2026" for n in ("dora", "emil", "fritz", "gerda")}


def _need(tool: str) -> None:
    if shutil.which(tool) is None and not IN_CI:
        pytest.skip(f"{tool} is not installed (scripts/bootstrap.sh test installs it)")


class Dav:
    """One person's WebDAV requests over HTTPS through nginx."""

    def __init__(self, stack, username: str, password: str):
        self.stack, self.username = stack, username
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        u = urllib.parse.urlsplit(stack.url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=str(stack.ca))

    def url(self, path: str = "") -> str:
        return f"/dav/{self.username}/" + urllib.parse.quote(path)

    def request(self, method: str, path: str, body=b"", headers=None, raw_path: bool = False, chunks=None):
        """Send METHOD to PATH (below the person's root unless RAW_PATH); CHUNKS sends a chunked body."""
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=120)
        target = path if raw_path else self.url(path)
        h = {"Authorization": self.auth, **(headers or {})}
        try:
            if chunks is not None:
                conn.request(method, target, body=iter(chunks), headers=h, encode_chunked=True)
            else:
                conn.request(method, target, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def propfind(self, path: str = "", depth: str = "1") -> tuple[int, str]:
        status, _h, body = self.request("PROPFIND", path, headers={"Depth": depth})
        return status, body.decode()


def objects(stack) -> set[str]:
    client = s3.admin_client(stack.config, stack.secrets)
    out: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=stack.config.roles["files"]["bucket"]
    ):
        out |= {o["Key"] for o in page.get("Contents", [])}
    return out


@pytest.fixture(scope="module")
def dav(files_stack):
    add_people(
        files_stack,
        [{"username": n, "password": p} for n, p in PASSWORDS.items()],
        {"davteam": ["dora", "emil"]},
    )
    return {n: Dav(files_stack, n, p) for n, p in PASSWORDS.items()}


@pytest.fixture(scope="module")
def relay(files_stack):
    u = urllib.parse.urlsplit(files_stack.url)
    with tls_relay(u.hostname or "", u.port or 443, files_stack.ca) as base:
        yield base


# --- real clients ------------------------------------------------------------------------------------


def test_litmus_suites_pass(dav, relay, tmp_path):
    _need("litmus")
    proc = subprocess.run(
        ["litmus", "-k", f"{relay}/dav/gerda/", "gerda", PASSWORDS["gerda"]],
        env={**os.environ, "TESTS": "basic copymove props locks http"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summaries = re.findall(
        r"summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", proc.stdout
    )
    assert [s[0] for s in summaries] == ["basic", "copymove", "props", "locks", "http"], proc.stdout[-3000:]
    failed = {suite: int(f) for suite, _run, _ok, f in summaries if int(f)}
    assert not failed, proc.stdout[-6000:]
    assert sum(int(run) for _s, run, _ok, _f in summaries) >= 100


def _tree(root: Path) -> dict[str, bytes]:
    names = ["Überblick", "données", "日本語", "naïve café", "Ελληνικά", "emoji 🎉", "plain"]
    rng = random.Random(12)
    out = {}
    for i in range(200):
        parts = [names[i % 7], f"sub {i % 5}"] + (["deeper"] if i % 3 == 0 else [])
        rel = "/".join([*parts, f"fichier-{i}-{names[(i * 3) % 7]}.bin"])
        data = rng.randbytes(rng.randint(0, 20000))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        out[rel] = data
    return out


def test_rclone_round_trip_is_byte_identical(files_stack, dav, tmp_path):
    _need("rclone")
    up, down = tmp_path / "up", tmp_path / "down"
    tree = _tree(up)
    obscured = subprocess.run(
        ["rclone", "obscure", PASSWORDS["emil"]], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        **os.environ,
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_STRATA_TYPE": "webdav",
        "RCLONE_CONFIG_STRATA_URL": f"{files_stack.url}/dav/emil",
        "RCLONE_CONFIG_STRATA_VENDOR": "other",
        "RCLONE_CONFIG_STRATA_USER": "emil",
        "RCLONE_CONFIG_STRATA_PASS": obscured,
    }
    (tmp_path / "rclone.conf").write_text("")

    def rclone(*args: str) -> subprocess.CompletedProcess:
        cmd = ["rclone", "--ca-cert", str(files_stack.ca), "--transfers", "8", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    proc = rclone("sync", str(up), "strata:tree")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = rclone("check", "--download", str(up), "strata:tree")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 differences found" in proc.stderr
    proc = rclone("sync", "strata:tree", str(down))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = {str(p.relative_to(down)): p.read_bytes() for p in down.rglob("*") if p.is_file()}
    assert got == tree


def test_cadaver_scripted(dav, relay, tmp_path):
    _need("cadaver")
    (tmp_path / "local.txt").write_text("written by cadaver\n")
    host = urllib.parse.urlsplit(relay).hostname
    (tmp_path / ".netrc").write_text(f"machine {host}\nlogin dora\npassword {PASSWORDS['dora']}\n")
    (tmp_path / ".netrc").chmod(0o600)
    script = "\n".join(
        [
            "mkcol cadaver",
            "cd cadaver",
            f"put {tmp_path / 'local.txt'} note.txt",
            "copy note.txt copy.txt",
            "move copy.txt moved.txt",
            "ls",
            f"get moved.txt {tmp_path / 'back.txt'}",
            "propset note.txt color blue",
            "propget note.txt color",
            "delete note.txt",
            "ls",
            "quit",
        ]
    )
    proc = subprocess.run(
        ["cadaver", f"{relay}/dav/dora/"],
        input=script + "\n",
        env={**os.environ, "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert "moved.txt" in out, out
    assert "blue" in out, out
    assert (tmp_path / "back.txt").read_text() == "written by cadaver\n"
    status, listing = dav["dora"].propfind("cadaver/")
    assert status == 207
    assert "moved.txt" in listing
    assert "note.txt" not in listing  # deleted: in the trash, not listed


# --- the web UI and WebDAV see the same files --------------------------------------------------------


def test_web_ui_and_webdav_see_the_same_files(files_stack, dav):
    dora = dav["dora"]
    status, _h, _b = dora.request("PUT", "from-dav.txt", b"hello from WebDAV")
    assert status == 201
    web = Client(files_stack.url, files_stack.ca)
    assert "/people/" in web.login("dora", PASSWORDS["dora"]).url
    page = web.get("/files/")
    assert "from-dav.txt" in page.text
    # The reverse: a file uploaded through the JSON API (the web UI's upload) is listed and served here.
    conn = http.client.HTTPSConnection(dora.host, dora.port, context=dora.ctx, timeout=60)
    token = files_stack.call(in_site.issue_token_for, "dora", "dav-ui-test")
    conn.request(
        "PUT",
        "/api/files/uploads/put?name=from-web.txt",
        body=b"hello from the web",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert conn.getresponse().status == 201
    conn.close()
    status, listing = dora.propfind()
    assert status == 207
    assert "from-web.txt" in listing
    assert "from-dav.txt" in listing
    status, headers, body = dora.request("GET", "from-web.txt")
    assert (status, body) == (200, b"hello from the web")
    status, _h, body = dora.request("GET", "from-web.txt", headers={"Range": "bytes=6-9"})
    assert (status, body) == (206, b"from")


def test_groups_and_shares_appear_in_the_tree(files_stack, dav):
    emil, dora = dav["emil"], dav["dora"]
    assert dora.request("MKCOL", "Groups/davteam/plans")[0] == 201
    assert dora.request("PUT", "Groups/davteam/plans/q1.txt", b"q1")[0] == 201
    assert emil.request("GET", "Groups/davteam/plans/q1.txt")[2] == b"q1"
    # A folder emil shares with dora appears under "Shared with me/emil/".
    assert emil.request("MKCOL", "for-dora")[0] == 201
    assert emil.request("PUT", "for-dora/hi.txt", b"hi dora")[0] == 201
    token = files_stack.call(in_site.issue_token_for, "emil", "dav-share-test")
    conn = http.client.HTTPSConnection(emil.host, emil.port, context=emil.ctx, timeout=60)
    folder_id = files_stack.call(in_site.folder_id, "emil", "for-dora")
    conn.request(
        "POST",
        f"/api/files/folders/{folder_id}/shares",
        body=json.dumps({"username": "dora", "permission": "read"}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert conn.getresponse().status == 201
    conn.close()
    assert dora.request("GET", "Shared with me/emil/for-dora/hi.txt")[2] == b"hi dora"
    # Read-only: dora cannot write there, and nothing is left behind.
    status, _h, body = dora.request("PUT", "Shared with me/emil/for-dora/mine.txt", b"x")
    assert status == 403, body
    # Nobody reaches another person's root.
    assert dora.request("PROPFIND", "/dav/emil/", headers={"Depth": "0"}, raw_path=True)[0] == 404


# --- authentication ------------------------------------------------------------------------------------


def test_app_password_and_login_limits(files_stack, dav):
    fritz = dav["fritz"]
    secret = files_stack.call(in_site.issue_token_for, "fritz", "dav-app-password")
    app = Dav(files_stack, "fritz", secret)
    assert app.propfind("", "0")[0] == 207
    assert Dav(files_stack, "dora", secret).propfind("", "0")[0] == 401  # not dora's
    assert fritz.propfind("", "0")[0] == 207
    wrong = Dav(files_stack, "fritz", "not-the-password")
    statuses = [wrong.propfind("", "0")[0] for _ in range(7)]
    assert statuses[:5] == [401] * 5, statuses
    assert 429 in statuses, statuses
    # While the pair waits, even the right password is refused (as on the login page).
    status, headers, _b = fritz.request("PROPFIND", "", headers={"Depth": "0"})
    assert status in (207, 429)
    if status == 429:
        assert int(headers["Retry-After"]) >= 1


# --- bad input ---------------------------------------------------------------------------------------


def _raw(dav: Dav, method: str, target: str, body: bytes = b"", headers=None) -> tuple[int, bytes]:
    status, _h, data = dav.request(method, target, body, headers, raw_path=True)
    return status, data


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/dav/dora/a/../../emil/x.txt", 400),
        ("/dav/dora/a%2Fb.txt", 400),
        ("/dav/dora/a%5Cb.txt", 400),
        ("/dav/dora/nul%00.txt", 400),
        ("/dav/dora/ctl%01.txt", 400),
        ("/dav/dora/" + "x" * 256 + ".txt", 400),
        ("/dav/dora/%20lead.txt", 400),
    ],
)
def test_bad_paths_are_refused_and_nothing_is_written(files_stack, dav, target, status):
    before = objects(files_stack)
    code, body = _raw(dav["dora"], "PUT", target, b"data")
    assert code == status, body
    assert body.strip()  # a message says why
    assert objects(files_stack) == before


def test_move_and_copy_onto_themselves_or_below(dav):
    dora = dav["dora"]
    assert dora.request("MKCOL", "loop")[0] == 201
    assert dora.request("MKCOL", "loop/inner")[0] == 201
    for method in ("MOVE", "COPY"):
        for dest in ("loop", "loop/inner/loop"):
            status, _h, body = dora.request(method, "loop", headers={"Destination": dora.url(dest)})
            assert status == 403, (method, dest, body)
    assert dora.propfind("loop/inner", "0")[0] == 207


def test_lock_on_a_locked_resource(dav):
    dora = dav["dora"]
    assert dora.request("PUT", "locked.txt", b"v1")[0] == 201
    lockinfo = (
        b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        b"<D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"
    )
    status, headers, _b = dora.request("LOCK", "locked.txt", lockinfo, {"Timeout": "Second-60"})
    assert status == 200
    assert headers["Lock-Token"].startswith("<opaquelocktoken:")
    assert dora.request("LOCK", "locked.txt", lockinfo, {"Timeout": "Second-60"})[0] == 423
    assert dora.request("PUT", "locked.txt", b"v2")[0] == 423  # no token: refused
    assert dora.request("GET", "locked.txt")[2] == b"v1"
    ok = dora.request("PUT", "locked.txt", b"v2", {"If": f"({headers['Lock-Token']})"})[0]
    assert ok == 204
    assert dora.request("UNLOCK", "locked.txt", headers={"Lock-Token": headers["Lock-Token"]})[0] == 204


def test_put_over_quota_and_chunked_put(files_stack, dav):
    emil = dav["emil"]
    # A chunked body (no Content-Length, as Windows sends it) is accepted and streamed.
    parts = [os.urandom(1024 * 1024) for _ in range(7)]  # more than one 5 MiB part
    status, headers, _b = emil.request("PUT", "chunked.bin", chunks=parts)
    assert status == 201
    status, _h, body = emil.request("GET", "chunked.bin")
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts)).digest()
    files_stack.call(in_site.set_quota, "emil", 8 * 1024 * 1024)
    try:
        before = objects(files_stack)
        status, _h, body = emil.request("PUT", "big.bin", os.urandom(3 * 1024 * 1024))
        assert status == 507, body
        assert b"free" in body
        # Chunked: refused as the bytes pass the quota, nothing half-written.
        status, _h, body = emil.request("PUT", "big2.bin", chunks=[os.urandom(1024 * 1024) for _ in range(4)])
        assert status == 507, body
        assert objects(files_stack) == before
        assert emil.propfind("big2.bin", "0")[0] == 404
    finally:
        files_stack.call(in_site.set_quota, "emil", 10 * 1024 * 1024 * 1024)


def test_propfind_infinity_is_refused(dav):
    status, body = dav["dora"].propfind("", "infinity")
    assert status == 403
    assert "propfind-finite-depth" in body


def test_oversized_xml_bodies_are_refused(dav):
    dora = dav["dora"]
    conn = http.client.HTTPSConnection(dora.host, dora.port, context=dora.ctx, timeout=60)
    conn.putrequest("PROPFIND", dora.url())
    conn.putheader("Authorization", dora.auth)
    conn.putheader("Depth", "0")
    conn.putheader("Content-Length", str(100 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"<?xml version='1.0'?>" + b" " * 65536)
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"limited" in resp.read()
    conn.close()
    # Chunked (no length announced), 100 MiB: nginx reads up to the limit, answers 413 and discards the
    # rest; the client sends the whole body before it reads the answer, as a drive client does.
    chunked = [b"<?xml version='1.0'?><D:propfind xmlns:D='DAV:'>"] + [b" " * 65536] * 1600
    status, _h, data = dora.request("PROPPATCH", "", chunks=chunked)
    assert (status, b"limited" in data) == (413, True)
    # At the limit exactly, the body reaches the app (which parses it: not XML it knows, 400, not 413).
    status, _h, data = dora.request("PROPFIND", "", b" " * (1024 * 1024), {"Depth": "0"})
    assert status != 413, data
    assert dora.propfind("", "0")[0] == 207


def test_xml_external_entities_are_not_resolved(dav):
    secret = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)  # noqa: SIM115
    secret.write("TOP-SECRET-CONTENT")
    secret.close()
    try:
        body = (
            f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret.name}">]>'
            '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:leak xmlns:Z="urn:z">&x;</Z:leak>'
            "</D:prop></D:set></D:propertyupdate>"
        ).encode()
        dora = dav["dora"]
        assert dora.request("PUT", "xxe.txt", b"x")[0] == 201
        status, _h, data = dora.request("PROPPATCH", "xxe.txt", body, {"Content-Type": "application/xml"})
        assert status == 400, data
        assert b"TOP-SECRET" not in data
        _s, listing = dora.propfind("xxe.txt", "0")
        assert "TOP-SECRET" not in listing
    finally:
        os.unlink(secret.name)


# --- a FUSE mount (davfs2) -----------------------------------------------------------------------------

DAVFS = Path("/usr/sbin/mount.davfs")


def test_davfs2_mount_reads_and_writes(files_stack, dav):
    if not (DAVFS.exists() and Path("/dev/fuse").exists()) and not IN_CI:
        pytest.skip("davfs2 or /dev/fuse is missing (scripts/bootstrap.sh test installs davfs2)")
    gerda = dav["gerda"]
    assert gerda.request("PUT", "before-mount.txt", b"written over WebDAV")[0] == 201
    # mount.davfs drops to its own user: the config and the mount point must be reachable by it.
    root = Path(tempfile.mkdtemp(prefix="strata-davfs-", dir="/tmp"))
    root.chmod(0o755)
    mnt, url = root / "mnt", f"{files_stack.url}/dav/gerda/"
    mnt.mkdir()
    (root / "secrets").write_text(f"{url} gerda {PASSWORDS['gerda']}\n")
    (root / "secrets").chmod(0o600)
    (root / "davfs2.conf").write_text(
        f"trust_ca_cert {files_stack.ca}\nsecrets {root / 'secrets'}\nuse_locks 0\n"
        # Directory listings fail with EINVAL on Linux >= 6.16 unless the buffer is larger:
        # https://github.com/alisarctl/davfs2/issues/22
        "buf_size 64\n"
    )
    try:
        subprocess.run(
            ["mount", "-t", "davfs", url, str(mnt), "-o", f"conf={root / 'davfs2.conf'}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        try:
            assert (mnt / "before-mount.txt").read_bytes() == b"written over WebDAV"
            assert "Groups" in os.listdir(mnt)
            (mnt / "through-fuse.txt").write_bytes(b"written through davfs2")
        finally:
            # Unmounting uploads what is still in davfs2's cache, then returns.
            subprocess.run(["umount", str(mnt)], check=True, capture_output=True, timeout=120)
        status, _h, body = gerda.request("GET", "through-fuse.txt")
        assert (status, body) == (200, b"written through davfs2")
    finally:
        shutil.rmtree(root, ignore_errors=True)
