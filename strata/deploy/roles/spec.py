"""The declaration of a server role: what the config reader, the CLI and Ansible need to know about it.

Each role folder holds a `spec.py` with one RoleSpec named SPEC. It imports only the standard library and
this module, so that `strata.deploy.config` (read by Django's settings) and `scripts/bootstrap.sh` (run
with Debian's python3 before the virtualenv exists) can read every role's facts without pulling in the
deployer.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from strata.deploy.config import Config

# A role's options as read from strata.toml: option -> value (defaults filled in).
Options = Mapping[str, Any]


class OptionError(Exception):
    """A role option with a bad value; the config reader adds the file's name (ConfigError)."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Port:
    """An option holding a TCP port, and how many consecutive ports from it the role listens on.

    COUNT_OPTION names the option giving the count (the app's instances); LABEL names the extra ports in
    error messages ("instance {n}" or "+{i}": n counts from 1, i from 0).
    """

    key: str
    count: int = 1
    count_option: str = ""
    label: str = "+{i}"
    # A role whose presence the port needs (the metrics endpoints listen only with the monitor role).
    with_role: str = ""

    def span(self, options: Options) -> int:
        return options[self.count_option] if self.count_option else self.count


class Link(NamedTuple):
    """A flow of the connection matrix: SOURCE's hosts connect to TARGET's ports, for PURPOSE."""

    source: str
    target: str
    purpose: str


class OptionPackages(NamedTuple):
    """Debian PACKAGES a role needs only when its OPTION has VALUE (e.g. certbot for the web role's ACME)."""

    option: str
    value: object
    packages: tuple[str, ...]


@dataclass(frozen=True)
class RoleSpec:
    """One server role's facts.

    links: the flows of the connection matrix this role declares, in the matrix's order (the firewall's
    rules and the status page follow it): the ones it opens, and for the app, mail delivered to it.
    depends_on: roles whose servers must answer before this role's start (the start order follows).
    packages: the Debian packages its servers need on a host (the test-only ones stay in bootstrap).
    option_packages: more packages, needed only when an option has a given value.
    secrets: the keys of the secrets file (strata.deploy.config.SECRET_MAKERS) its servers read on a host.
    deploy_secrets: the keys the deployer or the CLI needs besides on the role's hosts (after_start work,
    such as creating the database's app user). A host receives only its roles' secrets and deploy_secrets.
    """

    name: str
    required: bool
    options: dict[str, tuple[type, object]]
    ports: tuple[Port, ...] = ()
    multi_host: bool = False
    # Called with the whole Config, whether or not the role is placed (a placement rule may concern its
    # absence); raises OptionError.
    validate: Callable[[Config], None] | None = None
    fallback: str = ""
    links: tuple[Link, ...] = ()
    depends_on: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    # What each string option holds (option -> a name in KINDS); the config reader checks every value
    # against its kind before anything is rendered. A str option not listed is checked as "text".
    kinds: Mapping[str, str] = field(default_factory=dict)
    option_packages: tuple[OptionPackages, ...] = ()

    def __post_init__(self) -> None:
        for option, kind in self.kinds.items():
            if option not in self.options or kind not in KINDS:
                raise ValueError(f"{self.name} spec: kind {kind!r} of option {option!r} is not known")

    secrets: tuple[str, ...] = ()
    deploy_secrets: tuple[str, ...] = ()

    def defaults(self) -> dict[str, object]:
        return {k: d for k, (_t, d) in self.options.items()}

    def key(self, option: str) -> str:
        """Return OPTION's key in strata.toml, e.g. roles.db.port."""
        return f"roles.{self.name}.{option}"

    def check_range(self, options: Options, option: str, low: int, high: int) -> None:
        """Raise OptionError unless LOW <= OPTIONS[OPTION] <= HIGH."""
        value = options[option]
        if not low <= value <= high:
            raise OptionError(self.key(option), f"{value} is out of range {low}..{high}")


# --- what a string value may hold -------------------------------------------------------------------
# Every string of strata.toml ends up in a server's config (Postfix's main.cf, nginx, slapd.conf,
# supervisord), a certificate or a mail header. The config reader refuses control characters in any of
# them, then checks each against its kind. A kind is a function returning "" when the value is fine, else
# what it should be (one line, without the value: the reader adds the key and the value).

Kind = Callable[[str], str]

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Characters every server config and shell line takes as they are: no quoting, no variables ($ in
# Postfix, ; and { in nginx), no list separators (, and space).
_SAFE_PATH = re.compile(r"[A-Za-z0-9._+/-]+")
_LOCAL_PART = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")


def control_character(value: str) -> str:
    """Return the first control or line-breaking character of VALUE (C0, DEL, C1, U+2028/9), or ""."""
    for c in value:
        if unicodedata.category(c) in ("Cc", "Zl", "Zp"):
            return c
    return ""


def _text(value: str) -> str:
    if not value.isprintable() or len(value) > 200:
        return "use printable characters, at most 200"
    return ""


def _title(value: str) -> str:
    # Certificate subjects hold at most 64 characters (RFC 5280's ub-organization-name).
    if not value.isprintable() or not 1 <= len(value) <= 64 or value != value.strip():
        return "use 1 to 64 printable characters, without leading or trailing spaces"
    return ""


def _host_name(value: str) -> str:
    if not value.isascii():
        return "not a host name (write an international name in its xn-- form)"
    labels = value.split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(p) for p in labels) or labels[-1].isdigit():
        return "not a host name (labels of letters, digits and '-' joined by dots, e.g. team.example.org)"
    return ""


def _ip(value: str) -> str:
    return "" if is_ip(value) else "not an IP address"


def _host(value: str) -> str:
    return "" if is_ip(value) or not _host_name(value) else "not a host name or IP address"


def _network(value: str) -> str:
    if "%" in value:
        return "not an IP network (an address, or an address/prefix such as 198.18.0.0/15)"
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "not an IP network (an address, or an address/prefix such as 198.18.0.0/15)"
    return ""


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not (at and _LOCAL_PART.fullmatch(local) and len(local) <= 64 and not _host_name(domain)):
        return "not a plain address like someone@example.org (letters, digits, '.', '_', '+', '-' before @)"
    return ""


def _path_problem(value: str, absolute: bool) -> str:
    if absolute and not value.startswith("/"):
        return "must be an absolute path (starting with /)"
    if not _SAFE_PATH.fullmatch(value) or value.strip("/") == "":
        return "use letters, digits, '.', '_', '+', '-' and '/' (no spaces or quotes), not the root"
    if ".." in value.split("/"):
        return "may not hold a '..' component"
    return ""


def _path(value: str) -> str:
    return _path_problem(value, absolute=False)


def _absolute_path(value: str) -> str:
    return _path_problem(value, absolute=True)


def _identifier(value: str) -> str:
    # PostgreSQL keeps 63 bytes of a name (NAMEDATALEN - 1).
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", value):
        return "use letters, digits and '_', starting with a letter (at most 63)"
    return ""


def _name(value: str) -> str:
    # The rule of strata/accounts/validation.py's check_name: no character an LDAP DN or filter escapes.
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", value.lower()):
        return "use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)"
    return ""


def _dn(value: str) -> str:
    parts = value.split(",")
    if not all(p.startswith("dc=") and _LABEL.fullmatch(p[3:]) for p in parts):
        return "use dc= components of letters, digits and '-', e.g. dc=example,dc=org"
    return ""


def _bucket(value: str) -> str:
    if not (3 <= len(value) <= 63 and value == value.lower() and _LABEL.fullmatch(value)):
        return "not a valid bucket name (3 to 63 lower-case letters, digits and '-')"
    return ""


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return "not a time zone of the tz database, e.g. UTC or Europe/Paris"
    return ""


def _url(value: str) -> str:
    try:
        url = urllib.parse.urlsplit(value)
        url.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        url = urllib.parse.urlsplit("")
    if (
        url.scheme not in ("http", "https")
        or not url.hostname
        or _host(url.hostname)
        or url.username
        or url.query
        or url.fragment
        or not _SAFE_PATH.fullmatch(url.path or "/")
    ):
        return "not an http(s) URL of a host name or address (no spaces, quotes, user or query)"
    return ""


KINDS: dict[str, Kind] = {
    "text": _text,
    "title": _title,
    "host_name": _host_name,
    "ip": _ip,
    "host": _host,
    "network": _network,
    "email": _email,
    "path": _path,
    "absolute_path": _absolute_path,
    "identifier": _identifier,
    "name": _name,
    "dn": _dn,
    "bucket": _bucket,
    "time_zone": _time_zone,
    "url": _url,
}


def is_host_name(value: str) -> bool:
    """Return whether VALUE is an RFC 1123 host name (letters, digits and '-' labels, at most 253)."""
    return not _host_name(value)


def is_ip(value: str) -> bool:
    """Return whether VALUE is an IPv4 or IPv6 address (without a %zone: Python accepts any text there)."""
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
