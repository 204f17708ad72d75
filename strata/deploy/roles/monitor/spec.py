"""The monitor role's facts: Prometheus (see role.py for how it runs) and the metrics endpoints it scrapes.

Every role's metrics endpoint runs only when the monitor role is placed and enabled: no one else may reach
them (the firewall opens each to the monitor host only), so without a monitor they would only cost memory.
A role's endpoint is its option `metrics_port`; the host's own (node exporter) is roles.monitor.node_port on
every host of the topology.
"""

from __future__ import annotations

from typing import NamedTuple

from strata.deploy.roles.spec import Link, Port, RoleSpec

# The roles with a metrics endpoint of their own (option metrics_port), and what serves it.
EXPORTERS = {
    "web": "prometheus-nginx-exporter over nginx's stub_status (a loopback-only listener)",
    "app": "the app host's metrics program (prometheus-client: every app server, the queues)",
    "db": "prometheus-postgres-exporter (its own login, member of pg_monitor)",
    "files": "SeaweedFS's own -metricsPort",
    "comms": "a probe of Postfix's queues (comms/metrics.py: files per queue directory)",
    "domain": "a probe of slapd's cn=Monitor (domain/metrics.py: connections and operations)",
}


def validate(config) -> None:
    if "monitor" not in config.roles:
        return
    opts = config.roles["monitor"].options
    SPEC.check_range(opts, "scrape_seconds", 1, 300)
    SPEC.check_range(opts, "retention_days", 1, 3650)
    SPEC.check_range(opts, "node_port", 1, 65535)


SPEC = RoleSpec(
    name="monitor",
    required=False,
    options={
        "port": (int, 18190),  # Prometheus's own HTTP API and UI (the status page asks it)
        "node_port": (int, 18170),  # the node exporter on every host
        "scrape_seconds": (int, 15),
        "retention_days": (int, 15),
    },
    ports=(Port("port"),),
    validate=validate,
    # No fallback: nothing else takes its place (reported as "off", not as a fallback in use).
    fallback="",
    links=(
        *(Link("monitor", role, "Prometheus scrapes its metrics") for role in EXPORTERS),
        Link("app", "monitor", "the status page's request rates (Prometheus's API)"),
    ),
    # Started last: its targets are every other role's servers.
    depends_on=("web",),
    # Each role's exporter package is in its own spec (db, web); the node exporter runs on every host.
    packages=("prometheus", "prometheus-node-exporter"),
)


class Target(NamedTuple):
    """One scrape target: JOB's endpoint on HOST (a host name of the topology), at ADDRESS:PORT."""

    job: str
    host: str
    address: str
    port: int
    # https: the app's metrics program when the app speaks TLS (a link into it crosses hosts), verified
    # against the site CA. The exporters answer plain HTTP (README.md "Metrics" says so).
    scheme: str = "http"

    @property
    def url(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}/metrics"


def enabled(config) -> bool:
    """Return whether the metrics endpoints run (the monitor role is placed and enabled)."""
    return config.enabled("monitor")


def targets(config) -> list[Target]:
    """Return every metrics endpoint of the topology, by job: each role's, then each host's node exporter
    and Prometheus itself."""
    if not enabled(config):
        return []
    out = [
        Target(role, h.name, h.address, config.roles[role]["metrics_port"], _scheme(config, role))
        for role in EXPORTERS
        for h in config.hosts_of(role)
    ]
    node = config.roles["monitor"]["node_port"]
    out += [Target("node", h.name, h.address, node) for h in config.hosts.values() if config.roles_on(h.name)]
    monitor = config.host_of("monitor")
    out.append(Target("prometheus", monitor.name, monitor.address, config.roles["monitor"]["port"]))
    return out


def _scheme(config, role: str) -> str:
    return "https" if role == "app" and config.tls_into("app") else "http"


def api_url(config) -> str:
    """Return Prometheus's base URL (its HTTP API), or "" without a monitor."""
    if not enabled(config):
        return ""
    h = config.host_of("monitor")
    address = f"[{h.address}]" if ":" in h.address else h.address
    return f"http://{address}:{config.roles['monitor']['port']}"
