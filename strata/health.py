"""Health of every role and every link of the connection matrix, by protocol probes.

Used by `strata status` and by the admin status page, so both always agree.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from strata.config import LINKS, OPTIONAL_ROLES, ROLE_NAMES, Config
from strata.roles import Health, all_roles, timed


@dataclass(frozen=True)
class RoleReport:
    role: str
    required: bool
    hosts: list[str]
    state: str  # "ok", "down", "fallback"
    detail: str
    per_host: list[tuple[str, Health]]
    fallback: str


@dataclass(frozen=True)
class LinkReport:
    source: str
    target: str
    purpose: str
    state: str  # "ok", "down", "unused"
    detail: str


def _tcp(address: str, port: int) -> Health:
    def check():
        with socket.create_connection((address, port), timeout=2):
            return f"TCP {address}:{port}"
    return timed(check)


def roles_report(config: Config, secrets: dict) -> list[RoleReport]:
    roles = all_roles()
    jobs = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name in ROLE_NAMES:
            role = roles[name]
            if role.built:
                for host in config.hosts_of(name):
                    jobs[(name, host.name)] = pool.submit(role.probe, config, secrets, host)
        results = {k: f.result() for k, f in jobs.items()}
    out = []
    for name in ROLE_NAMES:
        role = roles[name]
        placed = [h.name for h in config.hosts_of(name)]
        if name in OPTIONAL_ROLES and (not config.enabled(name) or not role.built):
            if name not in config.roles:
                why = "not placed in strata.toml"
            elif not config.roles[name].enabled:
                why = "disabled in strata.toml"
            else:
                why = "not built yet"
            out.append(RoleReport(name, role.required, placed, "fallback", why, [], role.fallback))
            continue
        per_host = [(h, results[(name, h)]) for h in placed]
        ok = all(h.ok for _, h in per_host)
        detail = "; ".join(f"{h}: {r.detail}" for h, r in per_host)
        out.append(RoleReport(name, role.required, placed, "ok" if ok else "down", detail, per_host,
                              role.fallback))
    return out


def link_active(config: Config, source: str, target: str) -> bool:
    roles = all_roles()
    return all(config.enabled(r) and roles[r].built for r in (source, target))


def link_checks(config: Config, secrets: dict, source: str, target: str) -> list[Health]:
    """Probe the link SOURCE -> TARGET from this machine (the lab runs it on each source host)."""
    roles = all_roles()
    if (source, target) == ("web", "app"):
        return [_tcp(i.host.address, i.port) for i in config.app_instances()]
    if (source, target) == ("comms", "app"):
        from strata.roles.comms import inbound_checks

        return inbound_checks(config, secrets)
    if (source, target) == ("app", "db"):
        return [roles["db"].probe(config, secrets, config.host_of("db"))]
    return [roles[target].probe(config, secrets, h) for h in config.hosts_of(target)]


def link_report(source: str, target: str, purpose: str, checks: list[Health]) -> LinkReport:
    ok = all(c.ok for c in checks)
    detail = "; ".join(c.detail for c in checks if not c.ok) or f"{len(checks)} reachable"
    return LinkReport(source, target, purpose, "ok" if ok else "down", detail)


def links_report(config: Config, secrets: dict) -> list[LinkReport]:
    out = []
    for source, target, purpose in LINKS:
        if not link_active(config, source, target):
            out.append(LinkReport(source, target, purpose, "unused", "role absent: fallback in use"))
            continue
        out.append(link_report(source, target, purpose, link_checks(config, secrets, source, target)))
    return out
