"""The file server is closed: only the S3 port faces other hosts, S3 answers only valid signatures, each S3
identity reaches only its buckets, and SeaweedFS's own servers refuse callers without a JWT or a client
certificate. One stack for the module, with the file server on a host of its own (127.0.0.2), so that the
web -> files and app -> files links cross hosts as on real servers."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import urllib.parse
import uuid

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from strata.deploy.roles.files import client as s3
from strata.deploy.roles.files.spec import INTERNAL_PORTS, S3_GRPC_OFFSET
from tests.support import in_site
from tests.support.client import follow, loopback_for
from tests.support.stack import free_ports, running_stack

pytestmark = pytest.mark.integration

FILES_ADDRESS = "127.0.0.2"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module")
def closed_stack():
    s3_port, internal = free_ports(1, INTERNAL_PORTS)
    extra = (
        f'\n[hosts.store]\naddress = "{FILES_ADDRESS}"\n'
        f'\n[roles.files]\nhosts = ["store"]\nport = {s3_port}\ninternal_port = {internal}\n'
    )
    with running_stack("strata-files-closed-", extra=extra) as stack:
        yield stack


def _ports(stack) -> tuple[int, int]:
    files = stack.config.roles["files"]
    return files["port"], files["internal_port"]


def listening() -> dict[int, set[str]]:
    """Return {port: local addresses} of every listening TCP socket (IPv4 and IPv6)."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    found: dict[int, set[str]] = {}
    for line in out.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        found.setdefault(int(port), set()).add(address.strip("[]").split("%")[0])
    return found


def refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return False
    except ConnectionRefusedError:
        return True


def client_as(stack, key: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint(stack.config),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        verify=s3.ca_file(stack.config),
        config=BotoConfig(
            signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_only_the_s3_port_faces_other_hosts(closed_stack):
    s3_port, base = _ports(closed_stack)
    ports = listening()
    assert FILES_ADDRESS in ports.get(s3_port, set()), ports.get(s3_port)
    for port in range(base, base + INTERNAL_PORTS):
        if port == base + S3_GRPC_OFFSET:
            continue  # weed s3 binds its gRPC port with its S3 port: mutual TLS only (test below)
        assert ports.get(port) == {"127.0.0.1"}, f"port {port} listens on {ports.get(port)}"
        assert refused(FILES_ADDRESS, port), port


def test_the_filer_is_closed_without_a_jwt_even_on_loopback(closed_stack):
    _s3, base = _ports(closed_stack)
    bucket = closed_stack.config.roles["files"]["bucket"]
    assert refused(FILES_ADDRESS, base + 2)
    conn = http.client.HTTPConnection("127.0.0.1", base + 2, timeout=10)
    try:
        conn.request("GET", f"/buckets/{bucket}/")
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 401, (resp.status, body[:200])


def test_a_volume_write_without_a_jwt_is_refused(closed_stack):
    _s3, base = _ports(closed_stack)
    conn = http.client.HTTPConnection("127.0.0.1", base, timeout=10)
    try:
        conn.request("GET", "/dir/assign")
        assigned = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    host, _, port = assigned["url"].rpartition(":")
    assert host == "127.0.0.1"
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        f"written behind S3's back\r\n--{boundary}--\r\n"
    ).encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(
            "POST", f"/{assigned['fid']}", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        resp = conn.getresponse()
        answer = resp.read()
    finally:
        conn.close()
    assert resp.status == 401, (resp.status, answer[:200])


def _grpc_answer(address: str, port: int, ca: str, cert: tuple[str, str] | None = None) -> bytes | None:
    """Open TLS to a gRPC port (with or without a client certificate) and send HTTP/2's preface; return
    the first bytes the server answers (its SETTINGS frame), or None when it refuses (a TLS alert such as
    "certificate required", or a hang-up)."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # SeaweedFS's gRPC TLS checks no names, only the CA
    ctx.set_alpn_protocols(["h2"])
    if cert:
        ctx.load_cert_chain(*cert)
    try:
        with socket.create_connection((address, port), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
            tls.sendall(H2_PREFACE + bytes.fromhex("000000040000000000"))
            return tls.recv(64) or None
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return None


def test_grpc_needs_a_client_certificate_from_the_site_ca(closed_stack):
    _s3, base = _ports(closed_stack)
    pki = closed_stack.config.var_dir / "pki"
    ca = str(pki / "ca.crt")
    cert = (str(pki / "files-grpc.crt"), str(pki / "files-grpc.key"))
    for port in (base + 4, base + 5, base + 6, base + S3_GRPC_OFFSET, base + 8):
        assert _grpc_answer("127.0.0.1", port, ca, cert), f"gRPC port {port} does not answer its own client"
        assert _grpc_answer("127.0.0.1", port, ca) is None, f"gRPC port {port} answers without a certificate"
    # The S3 gateway's gRPC port faces the host's address too: the same refusal from there.
    assert _grpc_answer(FILES_ADDRESS, base + S3_GRPC_OFFSET, ca) is None


def test_s3_speaks_only_https_verified_by_the_site_ca(closed_stack):
    s3_port, _base = _ports(closed_stack)
    assert s3.endpoint(closed_stack.config) == f"https://{FILES_ADDRESS}:{s3_port}"
    conn = http.client.HTTPConnection(FILES_ADDRESS, s3_port, timeout=5)
    try:
        conn.request("GET", "/")
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status == 400  # Go's TLS server answers plain HTTP with 400 "client sent an HTTP request to HTTPS"
    # Verified: a client that trusts only the public CAs refuses the file server's certificate.
    with (
        socket.create_connection((FILES_ADDRESS, s3_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname=FILES_ADDRESS)


def test_s3_answers_only_a_valid_signature(closed_stack):
    s3_port, _base = _ports(closed_stack)
    bucket = closed_stack.config.roles["files"]["bucket"]
    ctx = s3.ssl_context(closed_stack.config)
    conn = http.client.HTTPSConnection(FILES_ADDRESS, s3_port, context=ctx, timeout=10)
    try:
        conn.request("GET", f"/{bucket}/")
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    assert resp.status == 403
    secrets = closed_stack.secrets
    wrong = client_as(closed_stack, secrets["s3_app_access_key"], secrets["s3_app_secret_key"] + "x")
    assert error_code(lambda: wrong.list_objects_v2(Bucket=bucket)) in (
        "SignatureDoesNotMatch",
        "AccessDenied",
    )
    stranger = client_as(closed_stack, "nobody" + uuid.uuid4().hex[:8], "not-a-secret")
    assert error_code(lambda: stranger.list_objects_v2(Bucket=bucket)) in (
        "InvalidAccessKeyId",
        "AccessDenied",
    )


def test_each_identity_reaches_only_its_buckets(closed_stack):
    cfg, secrets = closed_stack.config, closed_stack.secrets
    data, backups = cfg.roles["files"]["bucket"], cfg.roles["files"]["backup_bucket"]
    app, backup = s3.app_client(cfg, secrets), s3.backup_client(cfg, secrets)
    key = f"closed-{uuid.uuid4().hex}"
    # What each may do (so that the refusals below are about permissions, not a broken client).
    app.put_object(Bucket=data, Key=key, Body=b"kept")
    assert backup.get_object(Bucket=data, Key=key)["Body"].read() == b"kept"
    assert any(o["Key"] == key for o in backup.list_objects_v2(Bucket=data).get("Contents", []))
    backup.put_object(Bucket=backups, Key=f"probe/{key}", Body=b"b")
    # The backup identity deletes and writes nothing in the files bucket.
    assert error_code(lambda: backup.delete_object(Bucket=data, Key=key)) == "AccessDenied"
    assert error_code(lambda: backup.put_object(Bucket=data, Key=key, Body=b"overwritten")) == "AccessDenied"
    # A multi-object delete answers 200 with the refusal per key.
    multi = backup.delete_objects(Bucket=data, Delete={"Objects": [{"Key": key}]})
    assert not multi.get("Deleted"), multi
    assert [e["Code"] for e in multi.get("Errors", [])] == ["AccessDenied"], multi
    assert app.get_object(Bucket=data, Key=key)["Body"].read() == b"kept"
    # The app identity cannot touch the backups.
    assert error_code(lambda: app.list_objects_v2(Bucket=backups)) == "AccessDenied"
    assert error_code(lambda: app.get_object(Bucket=backups, Key=f"probe/{key}")) == "AccessDenied"
    assert error_code(lambda: app.put_object(Bucket=backups, Key=f"probe/{key}", Body=b"x")) == "AccessDenied"
    assert error_code(lambda: app.delete_object(Bucket=backups, Key=f"probe/{key}")) == "AccessDenied"
    assert backup.get_object(Bucket=backups, Key=f"probe/{key}")["Body"].read() == b"b"
    app.delete_object(Bucket=data, Key=key)
    backup.delete_object(Bucket=backups, Key=f"probe/{key}")


def test_nginx_fetches_downloads_over_verified_https(closed_stack):
    conf = (closed_stack.config.var_dir / "etc" / "web" / "nginx.conf").read_text()
    assert "proxy_pass https://strata_files/;" in conf
    assert "proxy_ssl_verify on;" in conf
    s3_port, _base = _ports(closed_stack)
    assert f"server {FILES_ADDRESS}:{s3_port};" in conf
    # A presigned URL is signed for the HTTPS endpoint, and the app's own context fetches it.
    cfg = closed_stack.config
    app = s3.app_client(cfg, closed_stack.secrets)
    key = f"presigned-{uuid.uuid4().hex}"
    app.put_object(Bucket=cfg.roles["files"]["bucket"], Key=key, Body=b"signed bytes")
    url = app.generate_presigned_url(
        "get_object", Params={"Bucket": cfg.roles["files"]["bucket"], "Key": key}
    )
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "https"
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=s3.ssl_context(cfg), timeout=10
    )
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        assert conn.getresponse().read() == b"signed bytes"
    finally:
        conn.close()
    app.delete_object(Bucket=cfg.roles["files"]["bucket"], Key=key)


def test_uploads_and_downloads_cross_to_the_file_server_over_https(closed_stack):
    """The whole byte path with the file server on another host: the app's presigned PUT (HTTPS, the site
    CA) and nginx's download (proxy_ssl_verify), Range included."""
    admin, _password = closed_stack.admin
    token = closed_stack.call(in_site.issue_token_for, admin, "closed")
    site = urllib.parse.urlsplit(closed_stack.url)
    ctx = ssl.create_default_context(cafile=str(closed_stack.ca))
    data = bytes(range(256)) * 4096  # 1 MiB

    def call(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPSConnection(site.hostname or "", site.port, context=ctx, timeout=60)
        try:
            conn.request(method, path, body, {"Authorization": f"Bearer {token}", **(headers or {})})
            resp = conn.getresponse()
            status, got, body = resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()
        # A download leads to the content host (no token there: the signed URL is the permission).
        followed = follow(status, got, closed_stack.ca, loopback_for(closed_stack.url), headers)
        return (followed[0], followed[2]) if followed else (status, body)

    status, body = call(
        "PUT", "/api/files/uploads/put?name=crossed.bin", data, {"Content-Type": "application/octet-stream"}
    )
    assert status in (200, 201), body[:300]
    file_id = json.loads(body)["id"]
    assert call("GET", f"/api/files/files/{file_id}/content") == (200, data)
    status, part = call("GET", f"/api/files/files/{file_id}/content", headers={"Range": "bytes=1000-1999"})
    assert (status, part) == (206, data[1000:2000])
