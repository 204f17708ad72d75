"""Each lab host's nftables policy, generated from the connection matrix (strata.deploy.config.LINKS).

Input is dropped unless it is loopback (a host's own flows, e.g. SeaweedFS's internal servers), part of an
established connection, a client reaching the web role, or a link of the matrix: the source role's hosts to
the ports the target role serves on this host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from strata.deploy.config import LINKS, Config

TABLE = "strata_lab"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - an nftables file, not HTML
)


@dataclass(frozen=True)
class Rule:
    why: str
    sources: tuple[str, ...]  # empty: from anywhere
    ports: tuple[int, ...]


def served_ports(config: Config, role: str, host: str) -> tuple[int, ...]:
    """Return the ports ROLE serves to other hosts on HOST (its internal ports stay on loopback)."""
    if host not in [h.name for h in config.hosts_of(role)]:
        return ()
    opts = config.roles[role]
    if role == "web":
        return (opts["http_port"], opts["https_port"])
    if role == "app":
        return tuple(i.port for i in config.app_instances(host))
    return (opts["port"],)  # db, comms, domain; files: the S3 API only


def rules(config: Config, host: str) -> list[Rule]:
    """Return the flows HOST accepts from other hosts, one rule per role and link."""
    out = []
    web = served_ports(config, "web", host)
    if web:
        out.append(Rule("client -> web: the only public entry (http redirects to https)", (), web))
    me = config.hosts[host].address
    for source, target, purpose in LINKS:
        ports = served_ports(config, target, host)
        sources = tuple(sorted({h.address for h in config.hosts_of(source)} - {me}))
        if ports and sources:
            out.append(Rule(f"{source} -> {target}: {purpose}", sources, ports))
    return out


def allowed(config: Config, source_address: str | None, host: str, port: int) -> bool:
    """Whether the matrix lets SOURCE_ADDRESS (None: the outside world) reach PORT on HOST."""
    if source_address == config.hosts[host].address:
        return True
    for rule in rules(config, host):
        if port in rule.ports and (not rule.sources or source_address in rule.sources):
            return True
    return False


def render(config: Config, host: str) -> str:
    """Return HOST's nftables file: it replaces the lab's table and leaves everything else alone."""
    return _env.get_template("nftables.conf.j2").render(
        host=host, address=config.hosts[host].address, table=TABLE, rules=rules(config, host)
    )
