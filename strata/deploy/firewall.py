"""Each host's nftables policy, generated from the connection matrix (strata.deploy.config.LINKS).

One generator for the lab (strata.deploy.lab.run loads it into each namespace, table `strata_lab`) and for
real servers (`strata deploy` renders one file per host on the control machine and Ansible loads it,
table `strata`). The policy, input only:

- accepted: loopback (a host's own flows, e.g. SeaweedFS's internal servers), established and related
  traffic, the ICMP essentials (see the template), the public entry to web (http_port and https_port from
  anywhere), inbound SMTP to comms from anywhere when roles.comms.public_smtp is on, the flows of the
  matrix (the source role's host addresses to the ports the target role serves on this host), and SSH
  (site.ssh_port) from the management networks only (none in the lab's own firewall);
- everything else is dropped and counted by the named counter COUNTER (`strata status` reads it).

Output and forward are not filtered (their chains accept, and say so). Loading a file replaces Strata's
table atomically (`nft -f` applies it as one transaction) and never touches another table.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from strata.deploy.config import LINKS, Config, ConfigError

TABLE = "strata"  # the table `strata deploy` installs
LAB_TABLE = "strata_lab"  # the lab's own firewall (`strata lab up`)
COUNTER = "dropped"
# Where Ansible puts a host's file by default (strata_firewall_file); /etc/nftables.conf includes it.
HOST_FILE = "/etc/nftables.d/strata.nft"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # noqa: S701 - an nftables file, not HTML
)


@dataclass(frozen=True)
class Rule:
    why: str
    sources: tuple[str, ...]  # addresses or networks; empty: from anywhere
    ports: tuple[int, ...]

    def matches(self, address: str | None, port: int) -> bool:
        """Whether a connection from ADDRESS (None: the outside world) to PORT passes this rule."""
        if port not in self.ports:
            return False
        if not self.sources:
            return True
        return address is not None and any(
            ipaddress.ip_address(address) in ipaddress.ip_network(s) for s in self.sources
        )

    def nft(self) -> list[str]:
        """Return the rule as nftables lines: one per address family of its sources."""
        dport = f"tcp dport {{ {', '.join(str(p) for p in self.ports)} }} accept"
        if not self.sources:
            return [dport]
        lines = []
        for keyword, version in (("ip", 4), ("ip6", 6)):
            family = [s for s in self.sources if ipaddress.ip_network(s).version == version]
            if family:
                lines.append(f"{keyword} saddr {{ {', '.join(family)} }} {dport}")
        return lines


def served_ports(config: Config, role: str, host: str, source: str = "") -> tuple[int, ...]:
    """Return the ports ROLE serves to other hosts on HOST (its internal ports stay on loopback); for the
    app, to SOURCE: only web reaches the event server (events_port) besides the app servers."""
    if host not in [h.name for h in config.hosts_of(role)]:
        return ()
    opts = config.roles[role]
    if source == "monitor":
        # Only the monitor reaches a role's metrics endpoint, and it reaches nothing else.
        return (opts["metrics_port"],) if "metrics_port" in opts.options else ()
    if role == "web":
        return (opts["http_port"], opts["https_port"])
    if role == "app":
        events = (opts["events_port"],) if source in ("", "web") else ()
        return tuple(i.port for i in config.app_instances(host)) + events
    return (opts["port"],)  # db, comms, domain; files: the S3 API only


def node_exporter_port(config: Config, host: str) -> tuple[int, ...]:
    """Return the node exporter's port on HOST (every host running a role, while the monitor is on)."""
    if not config.enabled("monitor") or not config.roles_on(host):
        return ()
    return (config.roles["monitor"]["node_port"],)


def rules(config: Config, host: str, management: Sequence[str] = ()) -> list[Rule]:
    """Return the flows HOST accepts from other hosts, one rule per role and link, then SSH from
    MANAGEMENT (networks; none: no SSH rule)."""
    out = []
    web = served_ports(config, "web", host)
    if web:
        out.append(Rule("client -> web: the only public entry (http redirects to https)", (), web))
    smtp = served_ports(config, "comms", host)
    if smtp and config.roles["comms"]["public_smtp"]:
        out.append(Rule("internet -> comms: inbound mail (roles.comms.public_smtp)", (), smtp))
    me = config.hosts[host].address
    for source, target, purpose in LINKS:
        ports = served_ports(config, target, host, source)
        sources = tuple(sorted({h.address for h in config.hosts_of(source)} - {me}))
        if ports and sources:
            out.append(Rule(f"{source} -> {target}: {purpose}", sources, ports))
    node = node_exporter_port(config, host)
    monitors = tuple(sorted({h.address for h in config.hosts_of("monitor")} - {me}))
    if node and monitors:
        out.append(Rule("monitor -> node exporter: Prometheus scrapes the host's metrics", monitors, node))
    if management:
        out.append(
            Rule(
                "management -> ssh: administration and `strata deploy` (site.management_networks)",
                tuple(management),
                (config.site["ssh_port"],),
            )
        )
    return out


def allowed(
    config: Config, source_address: str | None, host: str, port: int, management: Sequence[str] = ()
) -> bool:
    """Whether the policy lets SOURCE_ADDRESS (None: the outside world) reach PORT on HOST."""
    if source_address == config.hosts[host].address:
        return True
    return any(rule.matches(source_address, port) for rule in rules(config, host, management))


def control_address(config: Config, host: str) -> str:
    """Return this machine's source address toward HOST (`ip route get`): where `strata deploy` runs from."""
    address = config.hosts[host].address
    try:
        proc = subprocess.run(
            ["ip", "-j", "route", "get", address], capture_output=True, text=True, timeout=10, check=False
        )
        route = json.loads(proc.stdout)[0] if proc.returncode == 0 else {}
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        route = {}
    if not route.get("prefsrc"):
        raise ConfigError(
            config.path,
            "site.management_networks",
            f"this machine has no route to host {host} ({address}) to find the address SSH comes from: "
            f"set site.management_networks",
        )
    return str(route["prefsrc"])


def management_networks(config: Config, host: str) -> tuple[str, ...]:
    """Return the networks SSH to HOST is accepted from: site.management_networks, else this machine's
    address toward HOST (the control machine's, when `strata deploy` renders the file)."""
    if config.site["management_networks"]:
        return tuple(config.site["management_networks"])
    return (str(ipaddress.ip_network(control_address(config, host))),)


def check_reachable(config: Config, host: str, management: Sequence[str]) -> None:
    """Refuse a policy that would lock this machine out of HOST's SSH (the deploy's next connection)."""
    me = control_address(config, host)
    if not any(ipaddress.ip_address(me) in ipaddress.ip_network(n) for n in management):
        raise ConfigError(
            config.path,
            "site.management_networks",
            f"does not hold {me}, the address `strata deploy` reaches host {host} from: its firewall "
            f"would lock this machine out (add it, or deploy with --no-firewall)",
        )


def render(
    config: Config,
    host: str,
    *,
    table: str = TABLE,
    management: Sequence[str] = (),
    origin: str = "strata deploy",
) -> str:
    """Return HOST's nftables file: it replaces TABLE and leaves every other table alone."""
    if host not in config.hosts:
        raise ConfigError(config.path, "hosts", f"unknown host {host!r} (known: {', '.join(config.hosts)})")
    return _env.get_template("nftables.conf.j2").render(
        host=host,
        address=config.hosts[host].address,
        table=table,
        counter=COUNTER,
        origin=origin,
        rules=rules(config, host, management),
    )


def render_for_deploy(config: Config, host: str) -> str:
    """Return the file `strata deploy` installs on HOST: SSH open to the management networks, which must
    hold this machine's address."""
    management = management_networks(config, host)
    check_reachable(config, host, management)
    return render(config, host, management=management)


def describe(netns: str | None = None) -> str:
    """Return which firewall guards this host (or the lab namespace NETNS): Strata's with its rule count
    and dropped packets, the lab's, or none."""
    if not shutil.which("nft"):
        return "none (managed by the admin; nft is not installed)"
    prefix = ["ip", "netns", "exec", netns] if netns else []
    for table, name in ((TABLE, "strata nftables"), (LAB_TABLE, "lab")):
        proc = subprocess.run(
            [*prefix, "nft", "-j", "list", "table", "inet", table],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode == 0:
            return f"{name} ({_summary(proc.stdout)})"
        if "Operation not permitted" in proc.stderr:
            return "unknown (reading nftables needs root)"
    return "none (managed by the admin)"


def _summary(listing: str) -> str:
    """Return "N rules, M packets dropped" from `nft -j list table`'s output."""
    items = json.loads(listing).get("nftables", [])
    count = sum(1 for i in items if "rule" in i)
    dropped = sum(
        i["counter"].get("packets", 0) for i in items if i.get("counter", {}).get("name") == COUNTER
    )
    return f"{count} rules, {dropped} packets dropped"
