"""Prometheus's health and its HTTP API (no deployer machinery here: the status page reads it)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

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


def probe(config, secrets, host) -> Health:
    """GET /-/ready: 200 once Prometheus has loaded its config and its storage."""

    def check():
        url = api_url(config) + "/-/ready"
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - the topology's http URL
            resp.read()
        return "Prometheus ready"

    return timed(check)
