"""The domain role's metrics probe (program `domain-exporter`): slapd's own counters from cn=Monitor.

No Debian package exports slapd's figures; slapd keeps them in its monitor database (slapd.conf's
`database monitor`). The probe reads them at scrape time over the local socket (ldapi), authenticated by
its process's user (SASL EXTERNAL), which slapd.conf lets read cn=Monitor and nothing else: connections
(current and total) and operations completed by kind (bind, search, modify...).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import ldap
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from strata.deploy.roles.monitor.serve import main

BASE = "cn=Monitor"


def peer_dn(uid: int, gid: int) -> str:
    """Return the DN slapd gives a process of UID and GID on the ldapi socket (SASL EXTERNAL)."""
    return f"gidNumber={gid}+uidNumber={uid},cn=peercred,cn=external,cn=auth"


class MonitorCollector(Collector):
    def __init__(self, ldapi: str):
        self.ldapi = ldapi

    def _read(self) -> dict[str, dict[str, list[bytes]]]:
        conn = ldap.initialize(self.ldapi)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 3)
        try:
            conn.sasl_external_bind_s()
            wanted = ["monitorCounter", "monitorOpCompleted"]
            return {
                dn.lower(): attrs
                for dn, attrs in conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(objectClass=*)", wanted)
            }
        finally:
            conn.unbind_s()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("slapd_up", "Whether slapd answered the probe over its local socket.")
        try:
            entries = self._read()
        except ldap.LDAPError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        def counter(dn: str) -> float:
            values = entries.get(dn.lower(), {}).get("monitorCounter", [b"0"])
            return float(values[0])

        yield GaugeMetricFamily(
            "slapd_connections_current",
            "Open connections.",
            value=counter(f"cn=Current,cn=Connections,{BASE}"),
        )
        yield CounterMetricFamily(
            "slapd_connections",
            "Connections accepted since slapd started.",
            value=counter(f"cn=Total,cn=Connections,{BASE}"),
        )
        ops = CounterMetricFamily(
            "slapd_operations", "Operations completed since slapd started, by kind.", labels=["operation"]
        )
        suffix = f",cn=operations,{BASE}".lower()
        for dn, attrs in sorted(entries.items()):
            if dn.endswith(suffix) and "monitorOpCompleted" in attrs:
                name = dn[: -len(suffix)].removeprefix("cn=")
                ops.add_metric([name], float(attrs["monitorOpCompleted"][0]))
        yield ops


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ldapi", required=True)


if __name__ == "__main__":
    main(None, lambda args: MonitorCollector(args.ldapi), _arguments)
