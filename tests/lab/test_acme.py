"""The web host of a lab gets its public certificate from pebble (an ACME CA) through certbot, HTTP-01
answered by its own nginx, and serves it; renewal reloads nginx with the new certificate.

A small lab (web and app on one host, db on another) with roles.web.tls = "acme". Pebble runs in
the root namespace on the lab's bridge address (the outside world, for the lab) and resolves the site's
name through pebble-challtestsrv to the web host's address. The lab starts before pebble can listen on
its bridge, so the first `strata up` meets no ACME server: the web host serves the site CA's certificate,
as on a real server whose DNS is not ready yet. Then pebble starts and `strata up` again on the web
host obtains the certificate.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509

from strata.deploy import config as cfgmod
from strata.deploy.lab import run as labrun
from strata.deploy.lab import topology
from strata.deploy.roles.web import tls
from strata.deploy.roles.web.client import probe as web_probe
from tests.support.acme import plan_pebble, require_acme_tools, running_pebble
from tests.support.stack import make_root, require_lab_tools
from tests.support.tls import served_certificate
from tests.support.waits import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.integration]

DOMAIN = "web.strata.test"


def https_get(address: str, port: int, cadata: str, path: str) -> tuple[int, bytes]:
    """GET PATH from https://DOMAIN:PORT/ at ADDRESS, verified against CADATA."""
    context = ssl.create_default_context(cadata=cadata)
    with (
        socket.create_connection((address, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=DOMAIN) as tls_sock,
    ):
        tls_sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls_sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_web_host_gets_and_renews_its_certificate_from_pebble():
    require_lab_tools()
    require_acme_tools()
    root = make_root("strata-acme-lab-")
    try:
        run_acme_lab(root)
    finally:
        problems = labrun.down(root / "lab")
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, problems


def run_acme_lab(root: Path) -> None:
    subnet = topology.free_slice()
    pebble = plan_pebble(root / "pebble", topology.bridge_address(subnet))
    text = topology.default_topology(
        subnet,
        placement={"web": ["web"], "app": ["web"], "db": ["db"]},
        site={"domain": DOMAIN},
        options={
            "app": {"instances": 1, "workers": 1},
            "web": {
                "workers": 1,
                "tls": "acme",
                "acme_email": f"admin@{DOMAIN}",
                "acme_directory": pebble.directory,
                "acme_ca_file": str(pebble.ca_file),
            },
        },
    )
    (root / "topology.toml").write_text(text)
    config = cfgmod.parse(text, root / "topology.toml")
    web = config.hosts["web"].address
    http_port, https_port = config.roles["web"]["http_port"], config.roles["web"]["https_port"]
    lab = labrun.up(root / "lab", root / "topology.toml")
    site_ca = lab.ca().read_text()

    # No ACME server yet: the site CA's certificate, and web-acme will retry.
    first = served_certificate(web, https_port, DOMAIN, cadata=site_ca)
    assert first.issuer == x509.load_pem_x509_certificate(site_ca.encode()).subject
    assert "no ACME certificate yet" in (root / "lab" / "log" / "web-up.log").read_text()

    with running_pebble(pebble, web_address=web, http_port=http_port):
        lab.strata("web", "up", timeout=300)
        pebble_root = pebble.root()
        intermediate = pebble.intermediate()
        roots = pebble.fetch("roots/0")

        cert = served_certificate(web, https_port, DOMAIN, cadata=roots)
        assert cert.issuer == intermediate.subject
        assert DOMAIN in cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
        assert intermediate.issuer == pebble_root.subject
        # The site answers over https, verified against pebble's root.
        status, body = https_get(web, https_port, roots, "/-/ping")
        assert (status, body) == (200, b"ok\n")
        status, _ = https_get(web, https_port, roots, "/accounts/login/")
        assert status == 200
        # Requests by address (the web role's probe, `strata status`) still get the site CA's
        # certificate, which names the host's address.
        health = web_probe(lab.config(), {}, lab.config().hosts["web"])
        assert health.ok, health.detail

        # Renewal: what web-acme runs, forced; the deploy hook reloads nginx with the new certificate.
        renew(lab, config)
        wait_for(
            lambda: (
                served_certificate(web, https_port, DOMAIN, cadata=roots).serial_number != cert.serial_number
            ),
            timeout=30,
            what="nginx serving the renewed certificate",
        )
        assert served_certificate(web, https_port, DOMAIN, cadata=roots).issuer == intermediate.subject


def renew(lab: labrun.Lab, config: cfgmod.Config) -> None:
    """Run `certbot renew --force-renewal` on the web host as web-acme does (certbot_argv, certbot_env)."""
    paths = tls.AcmePaths.of(Path(lab.hosts["web"].var))
    argv = ["ip", "netns", "exec", lab.hosts["web"].netns, *tls.certbot_argv(config, paths, "renew")]
    for _attempt in range(3):
        proc = subprocess.run(
            # Not the random wait (up to 8 min) certbot adds before a renewal run without a terminal.
            [*argv, "--force-renewal", "--no-random-sleep-on-renew"],
            env=tls.certbot_env(config),
            capture_output=True,
            text=True,
            timeout=300,
        )
        # web-acme's own run holds certbot's lock for a moment: try again.
        if proc.returncode == 0 or "Another instance of Certbot" not in proc.stderr + proc.stdout:
            break
        time.sleep(5)
    assert proc.returncode == 0, (proc.stderr or proc.stdout)[-2000:]
