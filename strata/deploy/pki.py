"""The site's local certificate authority and the server certificates it signs.

The CA's key stays on the control machine (the one that runs `make up` / `strata deploy`): it issues
every host's certificates there (ensure_server_cert with CA_DIR), and a host without ca.key only checks
what it received (check_server_cert). The CA certificate carries name constraints (CaScope): the site's
names and the hosts' addresses, so that even its key could not sign for another site.
"""

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

from strata.deploy.system import DeployError

RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertRequest:
    """A server certificate a role needs on a host: pki/STEM.crt and pki/STEM.key for NAMES and ADDRESSES."""

    stem: str
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    client_auth: bool = False  # also a TLS client certificate (mutual TLS, e.g. SeaweedFS's gRPC)


@dataclass(frozen=True)
class CaScope:
    """What the CA may sign for: DNS names (each with its subdomains) and IP networks."""

    dns: tuple[str, ...]
    networks: tuple[str, ...]

    @classmethod
    def of(cls, names: list[str], addresses: list[str]) -> CaScope:
        nets = {str(ipaddress.ip_network(ipaddress.ip_address(a))) for a in addresses}
        return cls(tuple(sorted({n.lower().rstrip(".") for n in names})), tuple(sorted(nets)))

    def extension(self) -> x509.NameConstraints:
        return x509.NameConstraints(
            permitted_subtrees=[x509.DNSName(n) for n in self.dns]
            + [x509.IPAddress(ipaddress.ip_network(n)) for n in self.networks],
            excluded_subtrees=None,
        )

    def permits(self, names: list[str], addresses: list[str]) -> list[str]:
        """Return the NAMES and ADDRESSES this scope does not cover (RFC 5280 subtree matching)."""
        out = [
            n
            for n in names
            if not any(
                n.lower().rstrip(".") == d or n.lower().rstrip(".").endswith("." + d) for d in self.dns
            )
        ]
        return out + [
            a
            for a in addresses
            if not any(ipaddress.ip_address(a) in ipaddress.ip_network(n) for n in self.networks)
        ]


def ca_scope(cert: x509.Certificate) -> CaScope | None:
    """Return the name constraints CERT carries, or None."""
    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    permitted = nc.permitted_subtrees or []
    return CaScope(
        tuple(sorted(str(g.value) for g in permitted if isinstance(g, x509.DNSName))),
        tuple(sorted(str(g.value) for g in permitted if isinstance(g, x509.IPAddress))),
    )


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


def _ca_name(site_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, site_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{site_name} local CA"),
        ]
    )


def _sign_ca(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: x509.Name, scope: CaScope | None):
    builder = (
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
    )
    if scope is not None:
        builder = builder.add_extension(scope.extension(), critical=True)
    return builder.sign(key, hashes.SHA256())


def _ca_key(pki: Path) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        # ensure_ca writes an EC key; an operator's own CA may be RSA; other kinds cannot sign with SHA-256.
        raise ValueError(f"{pki / 'ca.key'}: the CA key must be EC or RSA, not {type(ca_key).__name__}")
    return ca_key


def ensure_ca(pki: Path, site_name: str, scope: CaScope | None = None) -> bool:
    """Create ca.key (0600) and ca.crt in PKI unless they exist, constrained to SCOPE when given; return
    True when created."""
    key_path, crt_path = pki / "ca.key", pki / "ca.crt"
    if key_path.exists() and crt_path.exists():
        return False
    pki.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _sign_ca(key, _ca_name(site_name), scope)
    _write_key(key_path, key)
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def constrain_ca(pki: Path, scope: CaScope) -> bool:
    """Re-issue ca.crt with the SAME key and subject when its name constraints are not exactly SCOPE (a CA
    made before constraints existed, or a topology that changed); return True when re-issued. The
    certificates it signed stay valid: same issuer name, same key."""
    crt_path = pki / "ca.crt"
    current = x509.load_pem_x509_certificate(crt_path.read_bytes())
    if ca_scope(current) == scope:
        return False
    cert = _sign_ca(_ca_key(pki), current.subject, scope)
    tmp = crt_path.with_name("ca.crt.new")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(tmp, 0o644)
    os.replace(tmp, crt_path)
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


def _pem_chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _problem(pki: Path, ca_crt: x509.Certificate, req: CertRequest) -> str:
    """Return why PKI/STEM.crt and .key do not serve REQ (empty when they do)."""
    crt_path, key_path = pki / f"{req.stem}.crt", pki / f"{req.stem}.key"
    if not (crt_path.exists() and key_path.exists()):
        return "is missing"
    try:
        current = _pem_chain(crt_path)[0]
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError, IndexError):
        return "cannot be read"
    wanted = set(req.names) | {str(ipaddress.ip_address(a)) for a in req.addresses}
    if not _issued_by(current, ca_crt):
        return "is not issued by pki/ca.crt"
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != current.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return f"does not match {req.stem}.key"
    if _sans(current) != wanted:
        return f"does not cover exactly {', '.join(sorted(wanted))}"
    if _client_auth(current) != req.client_auth:
        return "has the wrong client-auth usage"
    if current.not_valid_after_utc - _now() <= RENEW_BEFORE:
        return f"expires on {current.not_valid_after_utc:%Y-%m-%d}"
    return ""


def check_server_cert(pki: Path, req: CertRequest) -> str:
    """Return why PKI/STEM.crt (received from the control machine) does not serve REQ: missing, not
    issued by PKI/ca.crt, not matching its key, not covering REQ's names and addresses, or expiring
    within RENEW_BEFORE. Empty when it serves."""
    return _problem(pki, x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes()), req)


def ensure_server_cert(
    pki: Path,
    stem: str,
    names: list[str],
    addresses: list[str],
    *,
    client_auth: bool = False,
    ca_dir: Path | None = None,
) -> bool:
    """Issue STEM.crt/STEM.key in PKI from the CA in CA_DIR (default: PKI) for NAMES and ADDRESSES;
    reissue when they change or the certificate is about to expire. Return True when a certificate was
    issued. Refuse names and addresses outside the CA's name constraints."""
    ca_dir = ca_dir or pki
    req = CertRequest(stem, tuple(names), tuple(addresses), client_auth)
    crt_path, key_path = pki / f"{stem}.crt", pki / f"{stem}.key"
    ca_key = _ca_key(ca_dir)
    ca_crt = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ca_pem = ca_crt.public_bytes(serialization.Encoding.PEM)
    scope = ca_scope(ca_crt)
    outside = scope.permits(list(names), list(addresses)) if scope else []
    if outside:
        raise DeployError(
            f"certificate {stem}: {', '.join(outside)} outside the CA's name constraints (the site's domain, "
            f"localhost, the hosts' addresses)"
        )
    if not _problem(pki, ca_crt, req):
        chain = _pem_chain(crt_path)
        if chain[1:] != [ca_crt]:
            # The CA certificate was re-issued (same key): the leaf stays, the chain names the new one.
            crt_path.write_bytes(chain[0].public_bytes(serialization.Encoding.PEM) + ca_pem)
        return False
    pki.mkdir(parents=True, exist_ok=True)
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
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    return True
