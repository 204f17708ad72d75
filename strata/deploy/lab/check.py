"""`strata lab check` and `strata lab status`: every flow tried and every probe made from the lab's hosts.

Probes run inside the namespaces (python -m strata.deploy.lab.probe), so each one leaves from a host the
connection matrix allows: a role is probed from a host that uses it, a link from each of its source hosts.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from strata.deploy import firewall, health
from strata.deploy.config import LINKS, ROLE_NAMES, port_bindings
from strata.deploy.lab.probe import run_jobs
from strata.deploy.lab.run import Lab
from strata.deploy.roles.probe import Health
from strata.deploy.roles.registry import SPECS
from strata.deploy.system import DeployError

OUTSIDE = "outside"  # the root namespace: the bridge's address stands for the rest of the world


@dataclass(frozen=True)
class Flow:
    source: str  # a host name, or OUTSIDE
    target: str
    role: str
    key: str  # the config key of the port
    port: int
    expected: bool  # the matrix allows it
    result: str  # open | refused | timeout | error: ...

    @property
    def reached(self) -> bool:
        return self.result in ("open", "refused")

    @property
    def as_expected(self) -> bool:
        # An allowed flow must reach a listening server; a blocked one must not get through at all.
        return self.result == "open" if self.expected else not self.reached


def run_probes(lab: Lab, source: str, jobs: list[dict], timeout: float = 120) -> list:
    """Run JOBS (see strata.deploy.lab.probe) from SOURCE: a host's namespace, or the root one (OUTSIDE)."""
    if not jobs:
        return []
    if source == OUTSIDE:
        return run_jobs(jobs, str(lab.config_path))
    proc = lab.run_in(
        source, [sys.executable, "-m", "strata.deploy.lab.probe"], input=json.dumps(jobs), timeout=timeout
    )
    return json.loads(proc.stdout)


def check(lab: Lab) -> list[Flow]:
    """Try every role port of every host from every other host and from outside, all at once."""
    config = lab.config()
    targets = [(role, key, port, host.name) for role, key, port, host in port_bindings(config)]
    sources = [OUTSIDE, *lab.hosts]
    plan = {s: [t for t in targets if t[3] != s] for s in sources}
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = {
            s: pool.submit(run_probes, lab, s, [{"tcp": [config.hosts[t[3]].address, t[2]]} for t in plan[s]])
            for s in sources
        }
        results = {s: f.result() for s, f in futures.items()}
    flows = []
    for s in sources:
        address = lab.bridge_address if s == OUTSIDE else config.hosts[s].address
        for (role, key, port, target), result in zip(plan[s], results[s], strict=True):
            flows.append(
                Flow(s, target, role, key, port, firewall.allowed(config, address, target, port), result)
            )
    return flows


def _vantage(config, role: str) -> str:
    """Return where ROLE is probed from: outside for the web, a web host for the app servers (their
    /healthz answers the web tier), a host of the first app server for the rest."""
    if role == "web":
        return OUTSIDE
    if role == "app":
        return config.hosts_of("web")[0].name
    return config.hosts_of("app")[0].name


def status(lab: Lab) -> tuple[list[health.RoleReport], list[health.LinkReport]]:
    """Return the roles and links reports of `strata status`, each probe made from an allowed host."""
    config = lab.config()
    jobs: dict[str, list[dict]] = {}
    keys: dict[str, list] = {}

    def add(source, job, key):
        jobs.setdefault(source, []).append(job)
        keys.setdefault(source, []).append(key)

    for name in ROLE_NAMES:
        for host in config.hosts_of(name):
            add(_vantage(config, name), {"role": name, "host": host.name}, ("role", name, host.name))
    for source, target, _purpose in LINKS:
        if health.link_active(config, source, target):
            for host in config.hosts_of(source):
                add(host.name, {"link": [source, target]}, ("link", source, target))
    with ThreadPoolExecutor(max_workers=len(jobs) or 1) as pool:
        futures = {s: pool.submit(run_probes, lab, s, j) for s, j in jobs.items()}
        found: dict[tuple, list[Health]] = {}
        for s, f in futures.items():
            try:
                answers = f.result()
            except DeployError as exc:
                answers = [[{"ok": False, "detail": str(exc)[:200], "ms": 0}]] * len(jobs[s])
            for key, answer in zip(keys[s], answers, strict=True):
                found.setdefault(key, []).extend(
                    Health(a["ok"], f"from {s}: {a['detail']}" if not a["ok"] else a["detail"], a["ms"])
                    for a in answer
                )

    role_reports = _role_reports(config, found)
    link_reports = []
    for source, target, purpose in LINKS:
        if not health.link_active(config, source, target):
            link_reports.append(health.unused_link_report(config, source, target, purpose))
            continue
        link_reports.append(health.link_report(source, target, purpose, found[("link", source, target)]))
    return role_reports, link_reports


def _role_reports(config, found: dict[tuple, list[Health]]) -> list[health.RoleReport]:
    """Return each role's report from the probes FOUND (keyed ("role", name, host))."""
    role_reports = []
    for name in ROLE_NAMES:
        role, placed = SPECS[name], [h.name for h in config.hosts_of(name)]
        absent = health.absent_role_report(config, name)
        if absent is not None:
            role_reports.append(absent)
            continue
        per_host = [(h, found[("role", name, h)][0]) for h in placed]
        ok = all(r.ok for _, r in per_host)
        role_reports.append(
            health.RoleReport(
                name,
                role.required,
                placed,
                "ok" if ok else "down",
                "; ".join(f"{h}: {r.detail}" for h, r in per_host),
                per_host,
                role.fallback,
            )
        )
    return role_reports
