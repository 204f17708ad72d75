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
from strata.deploy.roles.spec import KINDS, OptionError, control_character

DEFAULT_CONFIG = "strata.toml"
ENV_CONFIG = "STRATA_CONFIG"
ENV_HOST = "STRATA_HOST"
# One var/ tree per host when several hosts share a machine (the lab).
ENV_VAR_DIR = "STRATA_VAR_DIR"
# The installed site's topology (`make up` in install mode), and the prefix tests put its tree under.
INSTALLED_CONFIG = "/etc/strata/strata.toml"
ENV_PREFIX = "STRATA_PREFIX"
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
    # Where every server's log goes; "" = <var_dir>/log (relative to strata.toml, or absolute).
    "log_dir": (str, ""),
    "admin_username": (str, "admin"),
    "admin_email": (str, "admin@localhost"),
    "time_zone": (str, "UTC"),
    "hsts_seconds": (int, 31536000),
    # Who may reach SSH through the firewall `strata deploy` installs: CIDRs; [] = the address
    # `strata deploy` runs from (strata.deploy.firewall.management_networks).
    "management_networks": (list, []),
    "ssh_port": (int, 22),
    # A production site: `strata drill` refuses it unless told --yes-really.
    "production": (bool, False),
    # The release the site's Python programs run (a directory holding strata/, or a `current` symlink to
    # one); "" = the code installed in the virtualenv that runs `strata`. See Config.code_dir.
    "code_dir": (str, ""),
}
# What each site value holds (see KINDS in strata/deploy/roles/spec.py). var_dir is relative to strata.toml
# or absolute, never with '..': the tree it names is where the deployer writes configs, keys and data, so
# it must be where it reads to be (and its full path is checked too, as it lands in server configs).
SITE_KINDS = {
    "name": "title",
    "domain": "host_name",
    "var_dir": "path",
    "code_dir": "path",
    "log_dir": "path",
    "admin_username": "name",
    "admin_email": "email",
    "time_zone": "time_zone",
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


def one_line(text: str) -> str:
    """Return TEXT with every non-printable character escaped (\\n, \\x00, \\u2028...)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(Exception):
    """A problem in strata.toml or the secrets file, described in one line."""

    def __init__(self, path: str | os.PathLike[str], key: str, message: str):
        self.path, self.key, self.message = str(path), key, message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        # A key or a file name may hold a newline too (a quoted TOML key): the line stays one line.
        super().__init__(one_line(where + message))


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
    def code_dir(self) -> Path | None:
        """The release site.code_dir names, its symlinks resolved now (each program started from a config
        rendered now stays on that release when the link moves); None: the installed code."""
        if not self.site.get("code_dir"):
            return None
        return (self.path.parent / self.site["code_dir"]).resolve()

    @property
    def log_dir(self) -> Path:
        """This machine's logs, the one place that decides it: site.log_dir, or <var_dir>/log when unset
        (so each lab host's logs follow its own var/ tree)."""
        if not self.site.get("log_dir"):
            return self.var_dir / "log"
        return (self.path.parent / self.site["log_dir"]).resolve()

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

    def link_tls(self, source: str, target: str) -> bool:
        """Return whether the link SOURCE -> TARGET crosses hosts, and so must be TLS with the site CA:
        true when any host of one end has another address than any host of the other end. A link whose
        ends all share one address stays on that machine (one machine's `make up` stays plain)."""
        ends = {h.address for h in self.hosts_of(source)} | {h.address for h in self.hosts_of(target)}
        return len(ends) > 1

    def tls_into(self, target: str) -> bool:
        """Return whether TARGET's server speaks TLS: some link of the matrix into it crosses hosts. Its
        clients then all use TLS, those on its own host included (one server, one way in)."""
        return any(self.link_tls(s, t) for s, t, _purpose in LINKS if t == target and self.enabled(s))

    @property
    def ca_cert(self) -> Path:
        """The site CA's certificate on this machine: what every TLS client of an internal link trusts."""
        return self.var_dir / "pki" / "ca.crt"

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


def _check_strings(path, key, value, kind: str, default) -> None:
    """Refuse control characters in VALUE (a string or a list of them), then check it against KIND.

    An empty string passes the kind's check when the option's default is empty (it means "not set").
    """
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str):
            continue
        c = control_character(item)
        if c:
            raise ConfigError(path, key, f"control character {c!r} in {item!r}")
        problem = KINDS[kind](item) if kind and (item or default != "") else ""
        if problem:
            raise ConfigError(path, key, f"{problem}: {item!r}")


def _read_table(path, prefix, table, schema, kinds=None) -> dict:
    """Return TABLE's values with SCHEMA's defaults filled in; check types, control characters and the
    kind of every string (KINDS names option -> kind; a str option not named there is "text")."""
    if not isinstance(table, dict):
        raise ConfigError(path, prefix, "expected a table")
    for key in table:
        if key not in schema:
            raise ConfigError(path, f"{prefix}.{key}", "unknown key")
    out = {}
    for key, (typ, default) in schema.items():
        if key in table:
            _check_type(path, f"{prefix}.{key}", table[key], typ)
            kind = (kinds or {}).get(key, "text" if typ is str else "")
            _check_strings(path, f"{prefix}.{key}", table[key], kind, default)
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
    site = _read_table(path, "site", table, SITE_OPTIONS, SITE_KINDS)
    if not 0 <= site["hsts_seconds"] < 2**31:
        raise ConfigError(path, "site.hsts_seconds", f"{site['hsts_seconds']} is out of range 0..{2**31 - 1}")
    for key in ("var_dir", "log_dir"):
        if not site[key]:
            continue
        full = str(path.absolute().parent / site[key])
        problem = KINDS["path"](full)
        if problem:
            raise ConfigError(path, f"site.{key}", f"resolves to {full!r}: {problem}")
    site["management_networks"] = _read_networks(
        path, "site.management_networks", site["management_networks"]
    )
    if not 1 <= site["ssh_port"] <= 65535:
        raise ConfigError(path, "site.ssh_port", f"port {site['ssh_port']} is out of range 1..65535")
    if site["code_dir"]:
        code = path.absolute().parent / site["code_dir"]
        if not (code / "strata" / "__init__.py").is_file():
            raise ConfigError(
                path, "site.code_dir", f"{str(code)!r} is not a Strata release (no strata/__init__.py in it)"
            )
    return site


def _read_networks(path: Path, key: str, values: list) -> list[str]:
    """Return VALUES as networks in CIDR form (an address alone is a /32 or /128); refuse anything else."""
    out = []
    for value in values:
        try:
            if not isinstance(value, str):
                raise TypeError(value)
            out.append(str(ipaddress.ip_network(value)))
        except (TypeError, ValueError):
            raise ConfigError(
                path, key, f"not a network like 10.0.0.0/24 (no host bits set): {value!r}"
            ) from None
    return out


def _read_hosts(path: Path, raw_hosts) -> dict[str, Host]:
    if not isinstance(raw_hosts, dict) or not raw_hosts:
        raise ConfigError(path, "hosts", "at least one host is required")
    hosts = {}
    for name, table in raw_hosts.items():
        if not (name.isascii() and name.replace("-", "").replace("_", "").isalnum() and len(name) <= 63):
            raise ConfigError(path, f"hosts.{name}", "host names may hold letters, digits, '-' and '_'")
        opts = _read_table(path, f"hosts.{name}", table, HOST_OPTIONS, {"address": "ip"})
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
    opts = _read_table(
        path, f"roles.{name}", table, COMMON_ROLE_OPTIONS | spec.options, {"hosts": "", **spec.kinds}
    )
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
                if p.with_role and not config.enabled(p.with_role):
                    continue
                key = spec.key(p.key)
                for i in range(p.span(options)):
                    label = f"{key} ({p.label.format(i=i, n=i + 1)})" if i else key
                    yield role, label, options[p.key] + i, host
    # The node exporter (roles.monitor.node_port) listens on every host that runs a role.
    if config.enabled("monitor"):
        for host in config.hosts.values():
            if config.roles_on(host.name):
                yield "monitor", "roles.monitor.node_port", config.roles["monitor"]["node_port"], host


def installed_config() -> Path:
    """Return the installed site's topology (`make up` in install mode): /etc/strata/strata.toml, under
    $STRATA_PREFIX when set (strata.deploy.install.Layout owns the same mapping)."""
    prefix = os.environ.get(ENV_PREFIX)
    return Path(prefix).absolute() / INSTALLED_CONFIG.lstrip("/") if prefix else Path(INSTALLED_CONFIG)


def config_path(path: str | os.PathLike | None = None) -> Path:
    """Return the topology to read: PATH, $STRATA_CONFIG, ./strata.toml, or else the installed site's
    when it exists (so the `strata` on PATH works from any directory)."""
    if path or os.environ.get(ENV_CONFIG):
        return Path(path or os.environ[ENV_CONFIG]).absolute()
    local = Path(DEFAULT_CONFIG).absolute()
    if not local.exists() and installed_config().exists():
        return installed_config()
    return local


def load(path: str | os.PathLike | None = None) -> Config:
    """Read strata.toml from PATH, $STRATA_CONFIG or ./strata.toml."""
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(p, "", "no such file (run `strata init` to write the default)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    config = parse(text, p)
    # The var/ tree of this host when several share a machine (the lab, Ansible): it lands in configs too.
    override = os.environ.get(ENV_VAR_DIR)
    if override:
        _check_strings(p, ENV_VAR_DIR, override, "path", None)
    return config


def var_dir_lenient(path: str | os.PathLike | None = None) -> Path:
    """Return site.var_dir from a file that may fail validation (used to stop a running stack)."""
    p = config_path(path)
    if os.environ.get(ENV_VAR_DIR):
        _check_strings(p, ENV_VAR_DIR, os.environ[ENV_VAR_DIR], "", None)
        return Path(os.environ[ENV_VAR_DIR]).resolve()
    try:
        site = tomllib.loads(p.read_text(encoding="utf-8")).get("site", {})
        var = site.get("var_dir", SITE_OPTIONS["var_dir"][1]) if isinstance(site, dict) else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    if not isinstance(var, str):
        raise ConfigError(p, "site.var_dir", "expected str")
    _check_strings(p, "site.var_dir", var, "", None)
    return (p.parent / var).resolve()


# --- secrets ---------------------------------------------------------------------------------------


def _token(n: int = 32) -> str:
    return _secrets.token_urlsafe(n)


# Each secret and how to make it. New keys are added on the next run without touching existing ones.
SECRET_MAKERS: dict[str, Callable[[], str]] = {
    "django_secret_key": lambda: _token(50),
    "db_superuser_password": _token,
    "db_app_password": _token,
    # The postgres exporter's own login (member of pg_monitor), with the monitor role.
    "db_monitor_password": _token,
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
    # Point-in-time recovery (files role's `pitr`): pgBackRest's S3 identity (the db host archives WAL and
    # stores full backups in the pitr bucket) and the passphrase that encrypts that repository.
    "s3_pitr_access_key": lambda: "pitr" + _secrets.token_hex(8),
    "s3_pitr_secret_key": _token,
    "pgbackrest_cipher_pass": lambda: _token(48),
    # SeaweedFS's own servers (files role, security.toml): the JWT keys with which the master signs volume
    # writes and reads, and with which the S3 gateway signs its writes and reads to the filer.
    "seaweedfs_jwt_key": _token,
    "seaweedfs_jwt_read_key": _token,
    "seaweedfs_filer_jwt_key": _token,
    "seaweedfs_filer_jwt_read_key": _token,
    # Postfix's delivery of replies authenticates to the app with this (comms -> app).
    "comms_inbound_secret": _token,
}


# Secrets the admin may add to the control's secrets file (strata makes none of them).
OPTIONAL_SECRETS = ("comms_relay_password",)
# Made from another secret: the first admin's password hash (Django's pbkdf2_sha256 format), which is what
# the first app host receives; the password itself never leaves the control machine.
ADMIN_HASH = "admin_password_hash"
ADMIN_HASH_ITERATIONS = 1_000_000  # Django 5.2's default for PBKDF2PasswordHasher

# What the app servers and the worker read (the app role's spec says it). The rest (database superuser,
# directory admin, the S3 admin and backup identities, the first admin's password) stays with the deployer.
APP_SECRETS = SPECS["app"].secrets


def host_secret_keys(config: Config, host: str) -> tuple[str, ...]:
    """Return the secrets HOST receives: its roles' secrets and deploy_secrets (roles/<name>/spec.py)."""
    keys: dict[str, None] = {}
    for role in config.roles_on(host):
        keys.update(dict.fromkeys((*SPECS[role].secrets, *SPECS[role].deploy_secrets)))
    return tuple(keys)


def is_deployed_host(config: Config) -> bool:
    """Return whether this machine's var/ was filled by a control machine (`strata deploy`, the lab): it
    holds a secrets file but not the CA's key, which stays on the control. Such a host makes no secret and
    issues no certificate: it checks what it received."""
    return config.secrets_path.exists() and not (config.var_dir / "pki" / "ca.key").exists()


def password_hash(password: str, salt: str | None = None, iterations: int = ADMIN_HASH_ITERATIONS) -> str:
    """Return PASSWORD's hash in Django's pbkdf2_sha256 format (what auth_user.password holds)."""
    import base64
    import hashlib

    salt = salt or _secrets.token_hex(11)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii').strip()}"


def _required_secrets(config: Config, subset: bool) -> tuple[str, ...]:
    if subset:
        return APP_SECRETS
    if is_deployed_host(config):
        keys = {k for h in config.local_hosts() for k in host_secret_keys(config, h.name)}
        return tuple(k for k in (*SECRET_MAKERS, ADMIN_HASH) if k in keys)
    return tuple(SECRET_MAKERS)


def load_secrets(config: Config) -> dict[str, str]:
    """Read the secrets file ($STRATA_SECRETS when set: the app's subset); raise ConfigError when it is
    missing, unreadable or lacks a key (on a deployed host: a key its roles need)."""
    subset = os.environ.get(ENV_SECRETS)
    p = Path(subset) if subset else config.secrets_path
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(p, "", "no secrets file (run `strata init` or `make up`)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(p, "", f"cannot read: {exc}") from None
    for key in _required_secrets(config, bool(subset)):
        if not isinstance(data.get(key), str) or not data[key]:
            fix = (
                "run `strata deploy` from the control machine"
                if is_deployed_host(config)
                else "run `strata init`"
            )
            raise ConfigError(p, key, f"missing secret ({fix} to add it)")
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
    rehash = "admin_password" in added or not data.get(ADMIN_HASH)
    if added or rehash or (p.exists() and p.stat().st_mode & 0o077):
        for k in added:
            data[k] = SECRET_MAKERS[k]()
        if rehash:
            data[ADMIN_HASH] = password_hash(data["admin_password"])
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
