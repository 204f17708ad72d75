"""Health of every role and every link of the connection matrix, by protocol probes.

Used by `strata status` and by the admin status page, so both always agree. Light enough for Django: it
reads the roles' specs and calls their clients' probes (strata/deploy/roles/<name>/client.py), never the
deployer's Role classes.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from strata.deploy.config import LINKS, OPTIONAL_ROLES, ROLE_NAMES, Config
from strata.deploy.roles.probe import Health, timed
from strata.deploy.roles.registry import SPECS, probe_of


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


UNCHECKED = Health(False, "not checked from here (the firewall allows no such flow): see `strata status`")


def roles_report(config: Config, secrets: dict, from_host: str | None = None) -> list[RoleReport]:
    """Probe every role on every host. With FROM_HOST (an app server's own host), probe only what the
    connection matrix lets that host reach; the rest is reported as unchecked, not as down."""
    reachable = _reachable_from(config, from_host)
    jobs = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name in ROLE_NAMES:
            for host in config.hosts_of(name):
                if reachable(name, host.name):
                    jobs[(name, host.name)] = pool.submit(probe_of(name), config, secrets, host)
        results = {k: f.result() for k, f in jobs.items()}
    out = []
    for name in ROLE_NAMES:
        spec = SPECS[name]
        placed = [h.name for h in config.hosts_of(name)]
        absent = absent_role_report(config, name)
        if absent is not None:
            out.append(absent)
            continue
        per_host = [(h, results.get((name, h), UNCHECKED)) for h in placed]
        checked = [r for h, r in per_host if (name, h) in results]
        state = "unchecked" if not checked else "ok" if all(r.ok for r in checked) else "down"
        detail = "; ".join(f"{h}: {r.detail}" for h, r in per_host)
        out.append(RoleReport(name, spec.required, placed, state, detail, per_host, spec.fallback))
    return out


def _reachable_from(config: Config, from_host: str | None):
    """Return (role, host) -> whether FROM_HOST may probe ROLE on HOST under the connection matrix."""
    if from_host is None or len({h.address for h in config.hosts.values()}) == 1:
        return lambda role, host: True
    mine = set(config.roles_on(from_host))
    targets = {t for s, t, _ in LINKS if s in mine} | {"web"}  # nginx serves everyone

    def reachable(role: str, host: str) -> bool:
        return host == from_host or role in targets

    return reachable


def link_active(config: Config, source: str, target: str) -> bool:
    return all(config.enabled(r) for r in (source, target))


def link_checks(config: Config, secrets: dict, source: str, target: str) -> list[Health]:
    """Probe the link SOURCE -> TARGET from this machine (the lab runs it on each source host)."""
    if (source, target) == ("web", "app"):
        events = config.roles["app"]["events_port"]  # and each app host's event server
        return [_tcp(i.host.address, i.port) for i in config.app_instances()] + [
            _tcp(h.address, events) for h in config.hosts_of("app")
        ]
    if source == "monitor":
        # Prometheus scrapes the role's metrics endpoint, not its server (before the files case below:
        # the monitor may not reach the S3 port).
        from strata.deploy.roles.monitor.spec import targets

        return [_tcp(t.address, t.port) for t in targets(config) if t.job == target]
    if target == "files" and "s3_app_access_key" not in SPECS[source].secrets + SPECS[source].deploy_secrets:
        # nginx fetches presigned URLs and the db link carries backups: those hosts hold no S3 key to sign a
        # probe with (each host gets only its roles' secrets), so the link is the S3 port answering.
        port = config.roles["files"]["port"]
        return [_tcp(h.address, port) for h in config.hosts_of("files")]
    if (source, target) == ("comms", "app"):
        from strata.deploy.roles.comms.client import inbound_checks

        return inbound_checks(config, secrets)
    probe = probe_of(target)
    return [probe(config, secrets, h) for h in config.hosts_of(target)]


def absent_role_report(config: Config, name: str) -> RoleReport | None:
    """Return the report of optional role NAME when it is not on (its fallback in use, or simply off for
    a role without one: the monitor), else None."""
    if name not in OPTIONAL_ROLES or config.enabled(name):
        return None
    spec = SPECS[name]
    why = "not placed in strata.toml" if name not in config.roles else "disabled in strata.toml"
    state = "fallback" if spec.fallback else "off"
    return RoleReport(
        name, spec.required, [h.name for h in config.hosts_of(name)], state, why, [], spec.fallback
    )


def unused_link_report(config: Config, source: str, target: str, purpose: str) -> LinkReport:
    """Return the report of a link whose source or target role is not on."""
    gone = [r for r in (source, target) if r in OPTIONAL_ROLES and not config.enabled(r)]
    why = "fallback in use" if any(SPECS[r].fallback for r in gone) else "off"
    return LinkReport(source, target, purpose, "unused", f"role absent: {why}")


def link_report(source: str, target: str, purpose: str, checks: list[Health]) -> LinkReport:
    ok = all(c.ok for c in checks)
    detail = "; ".join(c.detail for c in checks if not c.ok) or f"{len(checks)} reachable"
    return LinkReport(source, target, purpose, "ok" if ok else "down", detail)


def links_report(config: Config, secrets: dict, from_host: str | None = None) -> list[LinkReport]:
    """Probe each link of the matrix; with FROM_HOST only the links that host is a source of."""
    mine = set(config.roles_on(from_host)) if from_host else None
    single = len({h.address for h in config.hosts.values()}) == 1
    out = []
    for source, target, purpose in LINKS:
        if not link_active(config, source, target):
            out.append(unused_link_report(config, source, target, purpose))
            continue
        if mine is not None and not single and source not in mine:
            out.append(LinkReport(source, target, purpose, "unchecked", UNCHECKED.detail))
            continue
        out.append(link_report(source, target, purpose, link_checks(config, secrets, source, target)))
    return out
