"""The web role's public certificate: the admin's files checked, or an ACME certificate through certbot.

roles.web.tls chooses (spec.py): "site-ca" serves the site CA's certificate (Role.certificates);
"files" serves the admin's cert_file/key_file, checked here on the web host before nginx sees them;
"acme" runs Debian's certbot with HTTP-01 through nginx itself (webroot): until the first certificate
arrives nginx serves the site CA's one, so that it can start and answer the challenge. nginx reads the
ACME certificate through two links in var/etc/web/tls/ that certbot's deploy hook (`deployed` below)
points at the new lineage before it reloads nginx. Renewal: the role's `web-acme` program under the
host's supervisor runs `certbot renew` every RENEW_SECONDS (and retries a first certificate every
RETRY_SECONDS); certbot renews 30 days before expiry and the deploy hook reloads nginx.

Run as `python -m strata.deploy.roles.web.tls renew-loop` (the program; STRATA_CONFIG, STRATA_HOST and
STRATA_VAR_DIR say which host) or `... deployed LINKS_DIR PID_FILE` (certbot's deploy hook).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from strata.deploy import config as cfgmod
from strata.deploy.config import Config, ConfigError

CERTBOT = "/usr/bin/certbot"
# One lineage name whatever site.domain is: the links and the checks find it there.
CERT_NAME = "strata-web"
RENEW_SECONDS = 12 * 3600
RETRY_SECONDS = 300
CERTBOT_TIMEOUT = 180


@dataclass(frozen=True)
class AcmePaths:
    """Where certbot and nginx meet on the web host (all under the host's var/)."""

    webroot: Path  # nginx serves /.well-known/acme-challenge/ from here; certbot writes the tokens
    state: Path  # certbot's --config-dir (account key, certificates and their keys) and --work-dir
    logs: Path  # certbot's --logs-dir
    links: Path  # public.crt and public.key: what nginx serves
    pid: Path  # nginx's pid file: the deploy hook's SIGHUP goes there

    @classmethod
    def of(cls, var: Path, log: Path | None = None) -> AcmePaths:
        """Return the paths under the host's VAR tree, certbot's logs under LOG (the site's log_dir)."""
        return cls(
            webroot=var / "run" / "web" / "acme",
            state=var / "data" / "web" / "certbot",
            logs=(log or var / "log") / "web" / "certbot",
            links=var / "etc" / "web" / "tls",
            pid=var / "run" / "web" / "nginx.pid",
        )

    @property
    def lineage(self) -> Path:
        return self.state / "config" / "live" / CERT_NAME

    @property
    def cert(self) -> Path:
        return self.links / "public.crt"

    @property
    def key(self) -> Path:
        return self.links / "public.key"


# --- the admin's files (tls = "files") ------------------------------------------------------------------


def covers(cert: x509.Certificate, name: str) -> bool:
    """Return whether CERT is valid for host NAME (its DNS names, one-label wildcards included)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    name = name.rstrip(".").lower()
    for dns in sans.get_values_for_type(x509.DNSName):
        dns = dns.rstrip(".").lower()
        if dns == name or (dns.startswith("*.") and name.partition(".")[2] == dns[2:] and "." in dns[2:]):
            return True
    try:
        return ipaddress.ip_address(name) in sans.get_values_for_type(x509.IPAddress)
    except ValueError:
        return False


def _read(config: Config, key: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(config.path, key, f"{path} does not exist on this host") from None
    except OSError as exc:
        raise ConfigError(config.path, key, f"cannot read {path}: {exc.strerror}") from None
    return data


def check_files(config: Config) -> None:
    """Check roles.web.cert_file and key_file: readable PEM, the key matching the certificate (the first
    of the chain), site.domain covered, not expired, the key not readable by others. Raise ConfigError
    naming the key."""
    web = config.roles["web"].options
    cert_key, key_key = "roles.web.cert_file", "roles.web.key_file"
    cert_path, key_path = Path(web["cert_file"]), Path(web["key_file"])
    try:
        chain = x509.load_pem_x509_certificates(_read(config, cert_key, cert_path))
    except ValueError:
        raise ConfigError(config.path, cert_key, f"{cert_path} holds no PEM certificate") from None
    key_data = _read(config, key_key, key_path)
    if os.stat(key_path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            config.path,
            key_key,
            f"{key_path} is readable by other users: chmod 600 {shlex.quote(str(key_path))}",
        )
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(config.path, key_key, f"{key_path} holds no unencrypted PEM private key") from None
    cert = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        raise ConfigError(
            config.path, key_key, f"{key_path} is not the key of the certificate in {cert_path}"
        )
    domain = config.site["domain"]
    if not covers(cert, domain):
        raise ConfigError(config.path, cert_key, f"the certificate in {cert_path} does not cover {domain}")
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise ConfigError(
            config.path,
            cert_key,
            f"the certificate in {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
        )


def is_public(config: Config) -> bool:
    """Whether the served certificate comes from a public CA (then nginx staples its OCSP answers)."""
    return config.roles["web"]["tls"] != "site-ca"


# --- ACME (tls = "acme") ---------------------------------------------------------------------------------


def usable_lineage(paths: AcmePaths, domain: str) -> bool:
    """Whether certbot's lineage holds a certificate for DOMAIN that has not expired."""
    try:
        cert = x509.load_pem_x509_certificate((paths.lineage / "fullchain.pem").read_bytes())
    except (OSError, ValueError):
        return False
    return covers(cert, domain) and cert.not_valid_after_utc > dt.datetime.now(dt.UTC)


def issuer_of(path: Path) -> str:
    """Return the common name of the issuer of the certificate in PATH (for messages and tests)."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.issuer.rfc4514_string()


def point_links(paths: AcmePaths, cert: Path, key: Path) -> bool:
    """Point public.crt/public.key at CERT and KEY (each link replaced atomically); return whether they
    changed."""
    paths.links.mkdir(mode=0o755, parents=True, exist_ok=True)
    changed = False
    for link, target in ((paths.cert, cert), (paths.key, key)):
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
        changed = True
    return changed


def hook_command(paths: AcmePaths) -> str:
    """certbot's --deploy-hook (a shell command): point the links at the new lineage and reload nginx."""
    return shlex.join(
        [sys.executable, "-m", "strata.deploy.roles.web.tls", "deployed", str(paths.links), str(paths.pid)]
    )


def certbot_env(config: Config) -> dict[str, str]:
    """certbot's environment: REQUESTS_CA_BUNDLE when roles.web.acme_ca_file names the ACME server's CA
    (pebble's in the lab)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    ca = config.roles["web"]["acme_ca_file"]
    if ca:
        env["REQUESTS_CA_BUNDLE"] = ca
    return env


def certbot_argv(config: Config, paths: AcmePaths, verb: str) -> list[str]:
    """Return certbot's command for VERB: "certonly" (the first certificate, or a new site.domain) or
    "renew"; non-interactive, every directory under the host's var/."""
    web = config.roles["web"]
    common = [
        CERTBOT,
        verb,
        "--non-interactive",
        "--config-dir",
        str(paths.state / "config"),
        "--work-dir",
        str(paths.state / "work"),
        "--logs-dir",
        str(paths.logs),
        "--deploy-hook",
        hook_command(paths),
    ]
    if verb == "renew":
        return common
    return [
        *common,
        "--agree-tos",
        "--no-eff-email",
        "-m",
        web["acme_email"],
        "--server",
        web["acme_directory"],
        "--cert-name",
        CERT_NAME,
        "--webroot",
        "-w",
        str(paths.webroot),
        "-d",
        config.site["domain"],
        # A changed site.domain replaces the lineage's names.
        "--force-renewal" if (paths.lineage / "fullchain.pem").exists() else "--keep-until-expiring",
    ]


def run_certbot(config: Config, paths: AcmePaths, verb: str) -> tuple[bool, str]:
    """Run certbot VERB; return whether it succeeded and its last line of output."""
    for d in (paths.state, paths.logs):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            certbot_argv(config, paths, verb),
            env=certbot_env(config),
            capture_output=True,
            text=True,
            timeout=CERTBOT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return False, f"certbot {verb} did not finish in {CERTBOT_TIMEOUT}s"
    lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()
    # certbot ends with where to ask for help and where its log is: the line before says what happened.
    said = [
        ln.strip() for ln in lines if ln.strip() and not ln.startswith(("Ask for help", "See the logfile"))
    ]
    return proc.returncode == 0, (said or lines)[-1].strip()


def reload_nginx(pid_file: Path) -> bool:
    """Send nginx's master SIGHUP (re-read the config and certificates); return False if it is not running."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True


def deployed(links: Path, pid_file: Path) -> int:
    """certbot's deploy hook: serve the lineage certbot names in RENEWED_LINEAGE, then reload nginx."""
    lineage = Path(os.environ["RENEWED_LINEAGE"])
    paths = AcmePaths(Path(), Path(), Path(), links, pid_file)
    point_links(paths, lineage / "fullchain.pem", lineage / "privkey.pem")
    reload_nginx(pid_file)
    return 0


def renew_once(config: Config, paths: AcmePaths) -> tuple[bool, str]:
    """Obtain the first certificate when there is none for site.domain, else renew when due."""
    if usable_lineage(paths, config.site["domain"]):
        return run_certbot(config, paths, "renew")
    return run_certbot(config, paths, "certonly")


def renew_loop() -> int:
    """The web-acme program: renew_once every RENEW_SECONDS, every RETRY_SECONDS while it fails. The first
    wait comes first: `strata up` has just tried (certbot takes a lock; two at once would clash)."""
    config = cfgmod.load()
    (host,) = config.local_hosts()
    paths = AcmePaths.of(config.var_dir, config.log_dir)
    wait = RETRY_SECONDS
    while True:
        time.sleep(wait)
        ok, last = renew_once(config, paths)
        print(f"certbot on {host.name}: {'ok' if ok else 'failed'}: {last}", flush=True)
        wait = RENEW_SECONDS if ok else RETRY_SECONDS


def main(argv: list[str]) -> int:
    if argv[1:2] == ["renew-loop"] and len(argv) == 2:
        return renew_loop()
    if argv[1:2] == ["deployed"] and len(argv) == 4:
        return deployed(Path(argv[2]), Path(argv[3]))
    print(
        "usage: python -m strata.deploy.roles.web.tls renew-loop | deployed LINKS_DIR PID_FILE",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
