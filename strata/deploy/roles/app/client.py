"""The app's health endpoint over HTTP: GET /healthz on each app-server instance (no Django here)."""

from __future__ import annotations

import http.client
import json

from strata.deploy.roles.probe import Health, timed


def get_healthz(address: str, port: int, timeout: float = 3) -> dict:
    """GET /healthz from one app instance; return its JSON body or raise."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", "/healthz", headers={"Host": address})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    data = json.loads(body) if resp.getheader("Content-Type", "").startswith("application/json") else {}
    if resp.status != 200:
        failed = [k for k, v in data.get("checks", {}).items() if not v.get("ok")]
        raise RuntimeError(f"HTTP {resp.status}" + (f", failing: {', '.join(failed)}" if failed else ""))
    return data


def probe_instances(instances) -> Health:
    """GET /healthz on every one of INSTANCES; healthy only when all answer 200."""

    def check():
        for inst in instances:
            try:
                get_healthz(inst.host.address, inst.port)
            except Exception as exc:  # noqa: BLE001 - any failure of one instance is reported by name
                raise RuntimeError(f"{inst.name} ({inst.host.address}:{inst.port}): {exc}") from None
        return f"{len(instances)} instance(s) answer /healthz"

    return timed(check)


def probe(config, secrets, host) -> Health:
    """GET /healthz on every instance of HOST; healthy only when all answer 200."""
    return probe_instances(config.app_instances(host.name))
