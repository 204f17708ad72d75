"""Run probes from inside one lab host's namespace: `python -m strata.deploy.lab.probe` reads a JSON
list of jobs on stdin and prints a JSON list of results, in order.

Jobs: {"tcp": [address, port]} -> "open" | "refused" | "timeout" | "error: ...";
{"role": name, "host": host} and {"link": [source, target]} -> [{"ok", "detail", "ms"}, ...] (the same
protocol probes as `strata status`, made from this host).
"""

from __future__ import annotations

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

TCP_TIMEOUT = 1.0


def tcp(address: str, port: int, timeout: float = TCP_TIMEOUT) -> str:
    """Try a TCP connection: a firewall drop shows as a timeout, a closed port as refused."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error: {exc}"


def _health(items) -> list[dict]:
    return [{"ok": h.ok, "detail": h.detail, "ms": round(h.ms, 1)} for h in items]


def run_jobs(jobs: list[dict], config_path: str | None = None) -> list:
    """Run JOBS here; CONFIG_PATH defaults to $STRATA_CONFIG (set by the lab for each host)."""
    if any("tcp" not in j for j in jobs):
        # Imported only here: a TCP sweep starts fast without boto3, python-ldap and psycopg.
        from strata.deploy import config as cfgmod
        from strata.deploy import health
        from strata.deploy.roles.registry import probe_of

        config = cfgmod.load(config_path)
        secrets = cfgmod.load_secrets(config)

    def one(job):
        if "tcp" in job:
            return tcp(*job["tcp"])
        if "role" in job:
            return _health([probe_of(job["role"])(config, secrets, config.hosts[job["host"]])])
        return _health(health.link_checks(config, secrets, *job["link"]))

    with ThreadPoolExecutor(max_workers=64) as pool:
        return list(pool.map(one, jobs))


def main() -> int:
    json.dump(run_jobs(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
