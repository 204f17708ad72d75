"""The site's local certificate authority and the server certificate it signs (for nginx)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertRequest:
    """A server certificate a role needs on a host: pki/STEM.crt and pki/STEM.key for NAMES and ADDRESSES."""

    stem: str
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    client_auth: bool = False  # also a TLS client certificate (mutual TLS, e.g. SeaweedFS's gRPC)


def _write_key(path: Path, key: PrivateKeyTypes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    os.chmod(path, 0o600)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ensure_ca(pki: Path, site_name: str) -> bool:
    """Create ca.key (0600) and ca.crt in PKI unless they exist; return True when created."""
    key_path, crt_path = pki / "ca.key", pki / "ca.crt"
    if key_path.exists() and crt_path.exists():
        return False
    pki.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, site_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{site_name} local CA"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    }


def _client_auth(cert: x509.Certificate) -> bool:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in usage


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def ensure_server_cert(
    pki: Path, stem: str, names: list[str], addresses: list[str], *, client_auth: bool = False
) -> bool:
    """Issue STEM.crt/STEM.key from the local CA for NAMES and ADDRESSES; reissue when they change
    or the certificate is about to expire. Return True when a certificate was issued."""
    crt_path, key_path = pki / f"{stem}.crt", pki / f"{stem}.key"
    wanted = set(names) | {str(ipaddress.ip_address(a)) for a in addresses}
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        # ensure_ca writes an EC key; an operator's own CA may be RSA; other kinds cannot sign with SHA-256.
        raise ValueError(f"{pki / 'ca.key'}: the CA key must be EC or RSA, not {type(ca_key).__name__}")
    ca_crt = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    if crt_path.exists() and key_path.exists():
        current = x509.load_pem_x509_certificate(crt_path.read_bytes())
        if (
            _sans(current) == wanted
            and _client_auth(current) == client_auth
            and current.not_valid_after_utc - _now() > RENEW_BEFORE
            and _issued_by(current, ca_crt)
        ):
            return False
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in sorted(set(names))] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(set(addresses))
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_crt.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, *([ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [])]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    crt_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_crt.public_bytes(serialization.Encoding.PEM)
    )
    return True
