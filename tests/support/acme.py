"""Pebble (Debian's ACME test server) and pebble-challtestsrv (its DNS), for the web role's ACME tests;
and throwaway certificates (make_cert, write_pair) for the web role's tls = "files".

Pebble listens on ADDRESS (loopback, or a lab's bridge) with a certificate from a throwaway CA made here
(its ACME directory is HTTPS; certbot trusts that CA through roles.web.acme_ca_file). It resolves every
name through pebble-challtestsrv, on loopback, which answers every A query with the web host's address,
and it validates HTTP-01 on the web role's http_port: a real challenge, fetched from nginx. Nothing leaves
the machine: no outside DNS, no outside address.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.stack import IN_CI, free_ports
from tests.support.waits import wait_for

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
CERTBOT = "/usr/bin/certbot"


def require_acme_tools() -> None:
    missing = [p for p in (PEBBLE, CHALLTESTSRV, CERTBOT) if not Path(p).exists()]
    if missing:
        message = f"{', '.join(missing)} missing (make test installs pebble and certbot)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Pebble:
    directory: str  # the ACME directory URL (roles.web.acme_directory)
    ca_file: Path  # the CA of pebble's own HTTPS listener (roles.web.acme_ca_file)
    management: str  # https://.../ : roots/0, intermediates/0
    directory_path: Path  # its config, listener certificate and logs
    ports: dict[str, int]

    def fetch(self, path: str) -> str:
        """GET PATH from pebble's management port (verified against ca_file)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(self.management + path, context=context, timeout=10) as resp:
            return resp.read().decode()

    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.fetch("roots/0").encode())

    def intermediate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.fetch("intermediates/0").encode())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(names: list[str], days: int = 30):
    """Return a self-signed certificate for NAMES valid DAYS more days (negative: expired), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_pair(cert_path: Path, key_path: Path, cert, key) -> None:
    """Write CERT and KEY (mode 0600) as PEM."""
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)


def write_listener_cert(directory: Path, address: str) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a certificate for ADDRESS signed by it; return (ca, cert, key) paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("pebble listener test CA"))
        .issuer_name(_name("pebble listener test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("pebble"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "listener-ca.crt", directory / "listener.crt", directory / "listener.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    fd = os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def plan_pebble(directory: Path, address: str) -> Pebble:
    """Pick pebble's ports on ADDRESS and write its listener's certificate under DIRECTORY: the ACME
    directory's URL and CA are known (for strata.toml) before pebble runs."""
    directory.mkdir(parents=True, exist_ok=True)
    ports = dict(
        zip(("dns", "challtest", "acme", "management", "tls_alpn"), free_ports(1, 1, 1, 1, 1), strict=True)
    )
    ca, _cert, _key = write_listener_cert(directory, address)
    return Pebble(
        f"https://{address}:{ports['acme']}/dir",
        ca,
        f"https://{address}:{ports['management']}/",
        directory,
        ports,
    )


@contextlib.contextmanager
def running_pebble(pebble: Pebble, *, web_address: str, http_port: int):
    """Run PEBBLE (from plan_pebble) and its DNS on loopback (every name -> WEB_ADDRESS), validating
    HTTP-01 on HTTP_PORT; yield it; always stop both and remove its directory."""
    require_acme_tools()
    directory, ports = pebble.directory_path, pebble.ports
    address = urllib.parse.urlsplit(pebble.directory).hostname
    config = directory / "pebble.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"{address}:{ports['acme']}",
                    "managementListenAddress": f"{address}:{ports['management']}",
                    "certificate": str(directory / "listener.crt"),
                    "privateKey": str(directory / "listener.key"),
                    "httpPort": http_port,
                    "tlsPort": ports["tls_alpn"],
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    dns = f"127.0.0.1:{ports['dns']}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # No random sleep before validating, no nonce refused at random (pebble's defaults for clients).
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
    }
    procs: list[subprocess.Popen] = []
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    try:
        with open(logs / "challtestsrv.log", "wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        CHALLTESTSRV,
                        "-defaultIPv4",
                        web_address,
                        "-defaultIPv6",
                        "",
                        "-dns01",
                        dns,
                        "-http01",
                        "",
                        "-https01",
                        "",
                        "-tlsalpn01",
                        "",
                        "-management",
                        f"127.0.0.1:{ports['challtest']}",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        with open(logs / "pebble.log", "wb") as out:
            procs.append(
                subprocess.Popen(
                    [PEBBLE, "-config", str(config), "-dnsserver", dns],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )

        def answers() -> bool:
            for p in procs:
                if p.poll() is not None:
                    raise AssertionError(f"{p.args[0]} exited: {(logs / 'pebble.log').read_text()[-500:]}")
            try:
                pebble.fetch("roots/0")
            except OSError:
                return False
            return True

        wait_for(answers, timeout=30, what="pebble's management port")
        yield pebble
    finally:
        for p in reversed(procs):
            _stop(p)
        shutil.rmtree(directory, ignore_errors=True)
