"""The app's health endpoint over HTTP: GET /healthz on each app-server instance (no Django here)."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path

from strata.deploy.roles.probe import Health, timed


def app_tls_name(config) -> str:
    """Return the name every app server's certificate carries, which nginx verifies (proxy_ssl_name)."""
    return f"app.{config.site['domain']}"


def cafile_of(config) -> Path | None:
    """Return the CA to verify the app servers with when they speak TLS (Config.tls_into), else None."""
    return config.ca_cert if config.tls_into("app") else None


def connect(
    address: str, port: int, cafile: Path | str | None, timeout: float, **kw
) -> http.client.HTTPConnection:
    """Return a connection to one app server: HTTPS verified against CAFILE (the certificate's IP address
    must be ADDRESS), or plain HTTP when CAFILE is None (every end on one host)."""
    if cafile is None:
        return http.client.HTTPConnection(address, port, timeout=timeout, **kw)
    context = ssl.create_default_context(cafile=str(cafile))
    return http.client.HTTPSConnection(address, port, timeout=timeout, context=context, **kw)


def _get(address: str, port: int, path: str, timeout: float, cafile) -> tuple[int, str, bytes]:
    """GET PATH from an app host's server; return the status, Content-Type and body."""
    conn = connect(address, port, cafile, timeout)
    try:
        conn.request("GET", path, headers={"Host": address})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def get_healthz(address: str, port: int, timeout: float = 3, cafile: Path | str | None = None) -> dict:
    """GET /healthz from one app instance (over HTTPS verified by CAFILE when given); return its JSON
    body or raise."""
    status, content_type, body = _get(address, port, "/healthz", timeout, cafile)
    data = json.loads(body) if content_type.startswith("application/json") else {}
    if status != 200:
        failed = [k for k, v in data.get("checks", {}).items() if not v.get("ok")]
        raise RuntimeError(f"HTTP {status}" + (f", failing: {', '.join(failed)}" if failed else ""))
    return data


def get_events_health(address: str, port: int, timeout: float = 3, cafile: Path | str | None = None) -> dict:
    """GET /events/healthz from a host's event server; return its JSON body, or raise unless it LISTENs."""
    status, _, body = _get(address, port, "/events/healthz", timeout, cafile)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: not listening for events")
    return json.loads(body)


def probe_host(config, host_name: str) -> Health:
    """GET /healthz on every app instance of HOST_NAME and /events/healthz on its event server."""
    instances = config.app_instances(host_name)
    cafile = cafile_of(config)

    def check():
        for inst in instances:
            try:
                get_healthz(inst.host.address, inst.port, cafile=cafile)
            except Exception as exc:  # noqa: BLE001 - any failure of one instance is reported by name
                raise RuntimeError(f"{inst.name} ({inst.host.address}:{inst.port}): {exc}") from None
        address, port = config.hosts[host_name].address, config.roles["app"]["events_port"]
        try:
            streams = get_events_health(address, port, cafile=cafile)["streams"]
        except Exception as exc:  # noqa: BLE001 - reported by name, like an instance
            raise RuntimeError(f"events ({address}:{port}): {exc}") from None
        return f"{len(instances)} instance(s) answer /healthz; events: {streams} open stream(s)"

    return timed(check)


def probe(config, secrets, host) -> Health:
    """GET /healthz on every instance of HOST and its event server; healthy only when all answer 200."""
    return probe_host(config, host.name)
