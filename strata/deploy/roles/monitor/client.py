"""Prometheus's health and its HTTP API (no deployer machinery here: the status page reads it)."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from typing import NamedTuple

from strata.deploy.roles.monitor.spec import api_url
from strata.deploy.roles.probe import Health, timed


def get_json(config, path: str, params: dict | None = None, timeout: float = 3) -> dict:
    """GET PATH of Prometheus's API with PARAMS; return the decoded answer; raise OSError or ValueError."""
    url = api_url(config) + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - the topology's http URL
        return json.loads(resp.read().decode())


def query(config, promql: str, timeout: float = 3) -> list[dict]:
    """Return the result vector of the instant query PROMQL: [{"metric": {...}, "value": [t, "v"]}]."""
    answer = get_json(config, "/api/v1/query", {"query": promql}, timeout)
    if answer.get("status") != "success":
        raise ValueError(answer.get("error", "query failed"))
    return answer["data"]["result"]


class ServerRate(NamedTuple):
    """One app server's last minute, as Prometheus saw it: requests per second and their p99 in ms."""

    host: str
    server: str
    rate: float
    p99_ms: float | None


RATE = "sum by (host, server) (rate(strata_http_requests_total[1m]))"
P99 = (
    "histogram_quantile(0.99, sum by (host, server, le) "
    "(rate(strata_http_request_duration_seconds_bucket[1m])))"
)


def app_server_rates(config) -> list[ServerRate]:
    """Return each app server's request rate and p99 latency over the last minute (raise OSError or
    ValueError when Prometheus does not answer)."""

    def by_server(promql: str) -> dict[tuple[str, str], float]:
        out = {}
        for row in query(config, promql):
            value = float(row["value"][1])
            if not math.isnan(value):
                out[(row["metric"].get("host", ""), row["metric"].get("server", ""))] = value
        return out

    rates, p99 = by_server(RATE), by_server(P99)
    return [
        ServerRate(host, server, rate, p99[(host, server)] * 1000 if (host, server) in p99 else None)
        for (host, server), rate in sorted(rates.items())
    ]


def probe(config, secrets, host) -> Health:
    """GET /-/ready: 200 once Prometheus has loaded its config and its storage."""

    def check():
        url = api_url(config) + "/-/ready"
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - the topology's http URL
            resp.read()
        return "Prometheus ready"

    return timed(check)
