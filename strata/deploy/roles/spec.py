"""The declaration of a server role: what the config reader, the CLI and Ansible need to know about it.

Each role folder holds a `spec.py` with one RoleSpec named SPEC. It imports only the standard library and
this module, so that `strata.deploy.config` (read by Django's settings) and `scripts/bootstrap.sh` (run
with Debian's python3 before the virtualenv exists) can read every role's facts without pulling in the
deployer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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

    def span(self, options: Options) -> int:
        return options[self.count_option] if self.count_option else self.count


class Link(NamedTuple):
    """A flow of the connection matrix: SOURCE's hosts connect to TARGET's ports, for PURPOSE."""

    source: str
    target: str
    purpose: str


@dataclass(frozen=True)
class RoleSpec:
    """One server role's facts.

    links: the flows of the connection matrix this role declares, in the matrix's order (the firewall's
    rules and the status page follow it): the ones it opens, and for the app, mail delivered to it.
    depends_on: roles whose servers must answer before this role's start (the start order follows).
    packages: the Debian packages its servers need on a host (the test-only ones stay in bootstrap).
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


def is_host_name(value: str) -> bool:
    """Return whether VALUE is a DNS name of letters, digits and '-' labels (not all-numeric at the end)."""
    labels = value.rstrip(".").split(".")
    return (
        bool(value)
        and value.isascii()
        and not labels[-1].isdigit()
        and all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and not label.startswith("-")
            for label in labels
        )
    )


def is_ip(value: str) -> bool:
    """Return whether VALUE is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
