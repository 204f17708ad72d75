"""Read and validate the topology (strata.toml) and the secrets file.

This module is shared by Django's settings and by the deployer, so it must not import Django. Every
validation problem raises ConfigError with one line naming the file and the key. It knows no role: each
role's options, ports and checks come from its spec (strata/deploy/roles/<name>/spec.py, standard library
only), through strata.deploy.roles.registry.
"""

from __future__ import annotations

import ipaddress
import os
import secrets as _secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy.roles.registry import SPECS
from strata.deploy.roles.spec import OptionError

DEFAULT_CONFIG = "strata.toml"
ENV_CONFIG = "STRATA_CONFIG"
ENV_HOST = "STRATA_HOST"
# One var/ tree per host when several hosts share a machine (the lab).
ENV_VAR_DIR = "STRATA_VAR_DIR"
# Set for the app's processes: they read a copy of the secrets file holding only APP_SECRETS.
ENV_SECRETS = "STRATA_SECRETS"

# Every role's facts (options, ports, validation, fallback, links) are declared in its folder:
# strata/deploy/roles/<name>/spec.py. The names below are derived from them.
REQUIRED_ROLES = tuple(n for n, s in SPECS.items() if s.required)
OPTIONAL_ROLES = tuple(n for n, s in SPECS.items() if not s.required)
ROLE_NAMES = tuple(SPECS)
# Roles that may run on several hosts; the others are placed on exactly one.
MULTI_HOST_ROLES = tuple(n for n, s in SPECS.items() if s.multi_host)

# Each option: (type, default). A default of None means the option is required.
SITE_OPTIONS: dict[str, tuple[type, object]] = {
    "name": (str, "Strata"),
    "domain": (str, "localhost"),
    "var_dir": (str, "var"),
    "admin_username": (str, "admin"),
    "admin_email": (str, "admin@localhost"),
    "time_zone": (str, "UTC"),
    "hsts_seconds": (int, 31536000),
}
HOST_OPTIONS: dict[str, tuple[type, object]] = {
    "address": (str, None),
}
COMMON_ROLE_OPTIONS: dict[str, tuple[type, object]] = {
    "hosts": (list, None),
    "enabled": (bool, True),
}
ROLE_OPTIONS: dict[str, dict[str, tuple[type, object]]] = {n: s.options for n, s in SPECS.items()}
FALLBACKS = {n: s.fallback for n, s in SPECS.items() if s.fallback}
# The connection matrix: the only flows between roles, as (source, target, purpose).
LINKS = tuple(link for s in SPECS.values() for link in s.links)


class ConfigError(Exception):
    """A problem in strata.toml or the secrets file, described in one line."""

    def __init__(self, path: str | os.PathLike[str], key: str, message: str):
        self.path, self.key, self.message = str(path), key, message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Host:
    name: str
    address: str

    @property
    def is_loopback(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback

    def cidr(self) -> str:
        bits = 32 if ipaddress.ip_address(self.address).version == 4 else 128
        return f"{self.address}/{bits}"


@dataclass(frozen=True)
class Role:
    name: str
    hosts: tuple[str, ...]
    enabled: bool
    options: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.options[key]


@dataclass(frozen=True)
class AppInstance:
    host: Host
    index: int  # 1-based, unique per host
    port: int

    @property
    def name(self) -> str:
        return f"app-{self.index}"


@dataclass(frozen=True)
class Config:
    path: Path
    site: dict
    hosts: dict[str, Host]
    roles: dict[str, Role]

    @property
    def var_dir(self) -> Path:
        """This machine's state: site.var_dir, or $STRATA_VAR_DIR (each lab host has its own)."""
        override = os.environ.get(ENV_VAR_DIR)
        return Path(override).resolve() if override else (self.path.parent / self.site["var_dir"]).resolve()

    @property
    def secrets_path(self) -> Path:
        return self.var_dir / "secrets.toml"

    @property
    def app_secrets_path(self) -> Path:
        return self.var_dir / "secrets-app.toml"

    def enabled(self, role: str) -> bool:
        return role in self.roles and self.roles[role].enabled

    def options(self, role: str) -> dict:
        """Return ROLE's options, or their defaults when the role is not placed."""
        if role in self.roles:
            return self.roles[role].options
        return {k: d for k, (_t, d) in ROLE_OPTIONS[role].items()}

    def hosts_of(self, role: str) -> list[Host]:
        if not self.enabled(role):
            return []
        return [self.hosts[h] for h in self.roles[role].hosts]

    def host_of(self, role: str) -> Host:
        return self.hosts_of(role)[0]

    def roles_on(self, host: str) -> list[str]:
        return [r for r in ROLE_NAMES if self.enabled(r) and host in self.roles[r].hosts]

    def app_instances(self, host: str | None = None) -> list[AppInstance]:
        app = self.roles["app"]
        out = []
        for h in self.hosts_of("app"):
            if host is None or h.name == host:
                out += [AppInstance(h, i + 1, app["port"] + i) for i in range(app["instances"])]
        return out

    def url(self) -> str:
        port = self.roles["web"]["https_port"]
        return f"https://{self.site['domain']}" + ("" if port == 443 else f":{port}") + "/"

    def local_hosts(self) -> list[Host]:
        """Return the hosts this machine runs: STRATA_HOST if set, else those with a loopback address."""
        wanted = os.environ.get(ENV_HOST)
        if wanted:
            if wanted not in self.hosts:
                raise ConfigError(self.path, ENV_HOST, f"unknown host {wanted!r}")
            return [self.hosts[wanted]]
        return [h for h in self.hosts.values() if h.is_loopback]


def _check_type(path, key, value, expected):
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(path, key, f"expected {expected.__name__}, got {type(value).__name__} {value!r}")


def _read_table(path, prefix, table, schema) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(path, prefix, "expected a table")
    for key in table:
        if key not in schema:
            raise ConfigError(path, f"{prefix}.{key}", "unknown key")
    out = {}
    for key, (typ, default) in schema.items():
        if key in table:
            _check_type(path, f"{prefix}.{key}", table[key], typ)
            out[key] = table[key]
        elif default is None:
            raise ConfigError(path, f"{prefix}.{key}", "required key is missing")
        else:
            out[key] = default
    return out


def parse(text: str, path: str | os.PathLike[str] = DEFAULT_CONFIG) -> Config:
    """Parse and validate the text of a strata.toml; raise ConfigError on the first problem."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    for key in data:
        if key not in ("site", "hosts", "roles"):
            raise ConfigError(path, key, "unknown key")
    site = _read_site(path, data.get("site", {}))
    hosts = _read_hosts(path, data.get("hosts", {}))
    config = Config(path, site, hosts, _read_roles(path, data.get("roles", {}), hosts))
    for spec in SPECS.values():
        if spec.validate:
            try:
                spec.validate(config)
            except OptionError as exc:
                raise ConfigError(path, exc.key, exc.message) from None
    _check_ports(config)
    return config


def _read_site(path: Path, table) -> dict:
    site = _read_table(path, "site", table, SITE_OPTIONS)
    if not site["domain"] or any(c in site["domain"] for c in " /:;{}'\""):
        raise ConfigError(path, "site.domain", f"not a host name: {site['domain']!r}")
    return site


def _read_hosts(path: Path, raw_hosts) -> dict[str, Host]:
    if not isinstance(raw_hosts, dict) or not raw_hosts:
        raise ConfigError(path, "hosts", "at least one host is required")
    hosts = {}
    for name, table in raw_hosts.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(path, f"hosts.{name}", "host names may hold letters, digits, '-' and '_'")
        opts = _read_table(path, f"hosts.{name}", table, HOST_OPTIONS)
        try:
            addr = ipaddress.ip_address(opts["address"])
        except ValueError:
            raise ConfigError(
                path, f"hosts.{name}.address", f"not an IP address: {opts['address']!r}"
            ) from None
        if addr.is_unspecified or addr.is_multicast:
            raise ConfigError(path, f"hosts.{name}.address", f"not a host address: {addr}")
        hosts[name] = Host(name, str(addr))
    return hosts


def _read_roles(path: Path, raw_roles, hosts: dict[str, Host]) -> dict[str, Role]:
    if not isinstance(raw_roles, dict):
        raise ConfigError(path, "roles", "expected a table")
    for name in raw_roles:
        if name not in SPECS:
            raise ConfigError(path, f"roles.{name}", f"unknown role (known: {', '.join(ROLE_NAMES)})")
    roles = {}
    for name, spec in SPECS.items():
        if name in raw_roles:
            roles[name] = _read_role(path, name, raw_roles[name], hosts)
        elif spec.required:
            raise ConfigError(path, f"roles.{name}", "required role is missing")
    return roles


def _read_role(path: Path, name: str, table, hosts: dict[str, Host]) -> Role:
    spec = SPECS[name]
    opts = _read_table(path, f"roles.{name}", table, COMMON_ROLE_OPTIONS | spec.options)
    placed = opts.pop("hosts")
    enabled = opts.pop("enabled")
    key = f"roles.{name}.hosts"
    if not placed or not all(isinstance(h, str) for h in placed):
        raise ConfigError(path, key, "expected a non-empty list of host names")
    for h in placed:
        if h not in hosts:
            raise ConfigError(path, key, f"unknown host {h!r} (known: {', '.join(hosts)})")
    if len(set(placed)) != len(placed):
        raise ConfigError(path, key, "a host is listed twice")
    if not spec.multi_host and len(placed) != 1:
        raise ConfigError(path, key, f"the {name} role runs on exactly one host")
    if spec.required and not enabled:
        raise ConfigError(path, f"roles.{name}.enabled", "a required role cannot be disabled")
    return Role(name, tuple(placed), enabled, opts)


def _check_ports(config: Config) -> None:
    """Refuse ports out of range and two listeners on one address and port."""
    taken: dict[tuple[str, int], str] = {}
    for _role, key, port, host in port_bindings(config):
        if not 1 <= port <= 65535:
            raise ConfigError(config.path, key, f"port {port} is out of range 1..65535")
        other = taken.get((host.address, port))
        if other:
            raise ConfigError(config.path, key, f"port {port} on {host.address} is also used by {other}")
        taken[(host.address, port)] = key


def port_bindings(config: Config):
    """Yield (role, config key, port, host) for every TCP port the topology listens on."""
    for role, spec in SPECS.items():
        for host in config.hosts_of(role):
            options = config.roles[role].options
            for p in spec.ports:
                key = spec.key(p.key)
                for i in range(p.span(options)):
                    label = f"{key} ({p.label.format(i=i, n=i + 1)})" if i else key
                    yield role, label, options[p.key] + i, host


def config_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG).absolute()


def load(path: str | os.PathLike | None = None) -> Config:
    """Read strata.toml from PATH, $STRATA_CONFIG or ./strata.toml."""
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(p, "", "no such file (run `strata init` to write the default)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    return parse(text, p)


def var_dir_lenient(path: str | os.PathLike | None = None) -> Path:
    """Return site.var_dir from a file that may fail validation (used to stop a running stack)."""
    p = config_path(path)
    if os.environ.get(ENV_VAR_DIR):
        return Path(os.environ[ENV_VAR_DIR]).resolve()
    try:
        site = tomllib.loads(p.read_text(encoding="utf-8")).get("site", {})
        var = site.get("var_dir", SITE_OPTIONS["var_dir"][1]) if isinstance(site, dict) else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    if not isinstance(var, str):
        raise ConfigError(p, "site.var_dir", "expected str")
    return (p.parent / var).resolve()


# --- secrets ---------------------------------------------------------------------------------------


def _token(n: int = 32) -> str:
    return _secrets.token_urlsafe(n)


# Each secret and how to make it. New keys are added on the next run without touching existing ones.
SECRET_MAKERS: dict[str, Callable[[], str]] = {
    "django_secret_key": lambda: _token(50),
    "db_superuser_password": _token,
    "db_app_password": _token,
    "admin_password": lambda: _token(12),
    # domain role: the directory admin (rootdn: the deployer and the CLI), the app's read-only service
    # account, and the app's write-limited account for people and groups (the web admin).
    "ldap_admin_password": _token,
    "ldap_app_password": _token,
    "ldap_writer_password": _token,
    # S3 identities on the file server: the app (its bucket only), backups, and the deployer's admin.
    "s3_app_access_key": lambda: "app" + _secrets.token_hex(8),
    "s3_app_secret_key": _token,
    "s3_backup_access_key": lambda: "backup" + _secrets.token_hex(8),
    "s3_backup_secret_key": _token,
    "s3_admin_access_key": lambda: "admin" + _secrets.token_hex(8),
    "s3_admin_secret_key": _token,
    # SeaweedFS's own servers (files role, security.toml): the JWT keys with which the master signs volume
    # writes and reads, and with which the S3 gateway signs its writes and reads to the filer.
    "seaweedfs_jwt_key": _token,
    "seaweedfs_jwt_read_key": _token,
    "seaweedfs_filer_jwt_key": _token,
    "seaweedfs_filer_jwt_read_key": _token,
    # Postfix's delivery of replies authenticates to the app with this (comms -> app).
    "comms_inbound_secret": _token,
}


# What the app servers and the worker need. The rest (database superuser, directory admin, the S3 admin and
# backup identities, the first admin's password) stays with the deployer, in the root-only secrets file.
APP_SECRETS = (
    "django_secret_key",
    "db_app_password",
    "ldap_app_password",
    "ldap_writer_password",
    "s3_app_access_key",
    "s3_app_secret_key",
    "comms_inbound_secret",
)


def load_secrets(config: Config) -> dict[str, str]:
    """Read the secrets file ($STRATA_SECRETS when set: the app's subset); raise ConfigError when it is
    missing, unreadable or lacks a key."""
    subset = os.environ.get(ENV_SECRETS)
    p = Path(subset) if subset else config.secrets_path
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(p, "", "no secrets file (run `strata init` or `make up`)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    for key in APP_SECRETS if subset else SECRET_MAKERS:
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(p, key, "missing secret (run `strata init` to add it)")
    return data


def write_app_secrets(config: Config, secrets: dict[str, str]) -> Path:
    """Write the app's subset of the secrets next to the full file; return its path."""
    p = config.app_secrets_path
    write_secrets(p, {k: secrets[k] for k in APP_SECRETS if k in secrets})
    return p


def ensure_secrets(config: Config) -> tuple[dict[str, str], list[str]]:
    """Create the secrets file (mode 0600) or add missing keys; return the secrets and the keys added."""
    p = config.secrets_path
    data: dict[str, str] = {}
    if p.exists():
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    added = [k for k in SECRET_MAKERS if not data.get(k)]
    if p.exists() and os.geteuid() == 0 and p.stat().st_uid != 0:
        os.chown(p, 0, 0)  # the full file is the deployer's alone (the app gets secrets-app.toml)
    if added or (p.exists() and p.stat().st_mode & 0o077):
        for k in added:
            data[k] = SECRET_MAKERS[k]()
        write_secrets(p, data)
    return data, added


def write_secrets(p: Path, data: dict[str, str]) -> None:
    """Write the flat string table atomically, readable by its owner only."""
    import json  # JSON string escapes are valid TOML basic-string escapes.

    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Strata secrets: generated, keep private (mode 0600). Do not commit.\n")
        for k, v in sorted(data.items()):
            fh.write(f"{k} = {json.dumps(str(v))}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)
