"""The lab's topology: the default one (each role on its own host, two app hosts) and address checks."""

from __future__ import annotations

import glob
import ipaddress
import json
import subprocess

from strata.deploy.config import ROLE_OPTIONS, Config, ConfigError
from strata.deploy.roles.files.spec import INTERNAL_PORTS

# The lab's addresses: RFC 2544's benchmarking range, never a private or public network.
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/24")
# Each lab takes one slice of LAB_NETWORK (bridge + up to 29 hosts), so several labs can coexist.
SLICE_PREFIX = 27
DEFAULT_HOSTS = {
    "web": ["web"],
    "app": ["app1", "app2"],
    "db": ["db"],
    "comms": ["comms"],
    "domain": ["domain"],
    "files": ["files"],
}
# Lighter than `make up`'s default (seven hosts on one machine): one app server per app host.
DEFAULT_OPTIONS = {"app": {"instances": 1, "workers": 2}}


def slices() -> list[ipaddress.IPv4Network]:
    return list(LAB_NETWORK.subnets(new_prefix=SLICE_PREFIX))


def bridge_address(subnet: ipaddress.IPv4Network) -> str:
    """Return the bridge's address in SUBNET: the root namespace, standing for the outside world."""
    return str(subnet.network_address + 1)


def used_addresses() -> set[ipaddress.IPv4Address]:
    """Return the IPv4 addresses configured in this (the root) namespace."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    return {ipaddress.IPv4Address(a["local"]) for link in json.loads(out) for a in link.get("addr_info", [])}


def free_slice(taken: set[ipaddress.IPv4Address] | None = None) -> ipaddress.IPv4Network:
    """Return a slice of LAB_NETWORK no other lab's bridge uses."""
    taken = used_addresses() if taken is None else taken
    for subnet in slices():
        if not any(a in subnet for a in taken):
            return subnet
    raise ConfigError(
        "",
        "",
        f"every /{SLICE_PREFIX} slice of {LAB_NETWORK} is in use by another lab "
        f"(`strata lab down --dir DIR` the stale ones)",
    )


def _socket_taken(port: int) -> bool:
    return bool(glob.glob(f"/tmp/seaweedfs-*-{port}.sock"))  # noqa: S108 - SeaweedFS's own paths


def files_ports() -> dict[str, int]:
    """Return the files role's ports, clear of the SeaweedFS sockets (hard-coded under /tmp, named by
    port) that another instance on this machine may hold."""
    s3, base = ROLE_OPTIONS["files"]["port"][1], ROLE_OPTIONS["files"]["internal_port"][1]
    # Both are declared (int, default) in the spec; the asserts tell the type checker.
    assert isinstance(s3, int)
    assert isinstance(base, int)
    while _socket_taken(s3):
        s3 += 1
    while any(_socket_taken(p) or p == s3 for p in range(base, base + INTERNAL_PORTS)):
        base += INTERNAL_PORTS + 1
    return {"port": s3, "internal_port": base}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def default_topology(
    subnet: ipaddress.IPv4Network,
    *,
    app_hosts: int = 2,
    options: dict[str, dict] | None = None,
    placement: dict[str, list[str]] | None = None,
    site: dict | None = None,
    extra_roles: dict[str, list[str]] | None = None,
) -> str:
    """Return the text of a lab strata.toml: by default each role on its own host, APP_HOSTS app hosts.

    OPTIONS adds or overrides role options (e.g. ports); PLACEMENT maps roles to host names; EXTRA_ROLES
    places more roles on them (e.g. the monitor on one of the default hosts)."""
    placement = placement or {**DEFAULT_HOSTS, "app": [f"app{i + 1}" for i in range(app_hosts)]}
    placement = {**placement, **(extra_roles or {})}
    merged = {role: dict(DEFAULT_OPTIONS.get(role, {})) for role in placement}
    for role, opts in (options or {}).items():
        merged.setdefault(role, {}).update(opts)
    if "files" in placement and not {"port", "internal_port"} & set(merged["files"]):
        merged["files"].update(files_ports())
    names = list(dict.fromkeys(h for hosts in placement.values() for h in hosts))
    if len(names) > subnet.num_addresses - 3:
        raise ConfigError("", "hosts", f"{len(names)} hosts do not fit in the lab's /{subnet.prefixlen}")
    lines = [
        "# The lab's topology, written by `strata lab up`: one network namespace per host.",
        "",
        "[site]",
    ]
    # var_dir: the shared secrets and CA every host gets a copy of (each host has its own var/ tree).
    site = {"name": "Strata lab", "domain": "localhost", "var_dir": "shared", **(site or {})}
    for key, value in site.items():
        lines.append(f"{key} = {_toml_value(value)}")
    for i, name in enumerate(names):
        lines += ["", f"[hosts.{name}]", f'address = "{subnet.network_address + 2 + i}"']
    for role, hosts in placement.items():
        lines += ["", f"[roles.{role}]", f"hosts = {_toml_value(hosts)}"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in merged.get(role, {}).items()]
    return "\n".join(lines) + "\n"


def lab_slice(config: Config) -> ipaddress.IPv4Network:
    """Return the slice of LAB_NETWORK holding every host of CONFIG; raise ConfigError naming the host."""
    subnet: ipaddress.IPv4Network | None = None
    for host in config.hosts.values():
        addr = ipaddress.ip_address(host.address)
        key = f"hosts.{host.name}.address"
        if addr not in LAB_NETWORK:
            raise ConfigError(config.path, key, f"{addr} is outside the lab's network {LAB_NETWORK}")
        here = ipaddress.IPv4Network(f"{addr}/{SLICE_PREFIX}", strict=False)
        if subnet is None:
            subnet = here
        elif here != subnet:
            raise ConfigError(
                config.path,
                key,
                f"{addr} is not in {subnet}: a lab's hosts share one /{SLICE_PREFIX} slice of {LAB_NETWORK}",
            )
        if addr in (subnet.network_address, subnet.broadcast_address) or str(addr) == bridge_address(subnet):
            raise ConfigError(
                config.path,
                key,
                f"{addr} is reserved in {subnet} (network, broadcast or the "
                f"lab's bridge {bridge_address(subnet)})",
            )
    assert subnet is not None  # a Config always has a host
    return subnet
