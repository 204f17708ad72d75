"""Benchmark the one-machine stack: cold and warm `up` time, and memory (P6).

Starts its own stack in a temp dir on free ports (the code `make up` runs), measures, stops it, and
writes bench/reports/stack.md. Run as root: .venv/bin/python -m bench.stack
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import statistics
import time
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.supervisor import Supervisor
from tests.support.client import Client
from tests.support.stack import all_optional_roles_toml, descendants, make_root, write_topology

REPORT = Path(__file__).parent / "reports" / "stack.md"


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def stack_pss_mib(config) -> tuple[float, int]:
    daemon = int(Supervisor(config.var_dir).pidfile.read_text())
    pids = descendants(daemon)
    return sum(pss_kib(p) for p in pids) / 1024, len(pids)


def main() -> None:
    root = make_root("strata-bench-")
    path = write_topology(root, extra=all_optional_roles_toml())  # all six roles, as `make up` runs them
    try:
        t0 = time.monotonic()
        result = deploy.up(path)
        cold = time.monotonic() - t0
        config = cfgmod.load(path)
        warm = []
        for _ in range(3):
            t0 = time.monotonic()
            deploy.up(path)
            warm.append(time.monotonic() - t0)
        time.sleep(2)
        idle, nprocs = stack_pss_mib(config)
        secrets = cfgmod.load_secrets(config)
        client = Client(result.url, result.ca_cert)
        client.login(config.site["admin_username"], secrets["admin_password"])
        t0 = time.monotonic()
        n = 300
        for _ in range(n):
            assert client.get("/people/").status == 200
        page_ms = (time.monotonic() - t0) / n * 1000
        busy, _ = stack_pss_mib(config)
    finally:
        deploy.down(path)
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("cold `up` (initdb, migrate, collectstatic, start all)", f"{cold:.1f} s", "—"),
        ("warm `up` (already running), median of 3", f"{statistics.median(warm):.1f} s", "< 20 s (P6)"),
        (
            f"stack memory idle, sum of PSS over {nprocs} processes",
            f"{idle:.0f} MiB",
            "< 600 MB for six roles (P6)",
        ),
        (f"stack memory after {n} directory pages", f"{busy:.0f} MiB", "< 1.5 GB (P6)"),
        ("directory page, one client, sequential, HTTPS", f"{page_ms:.1f} ms/page", "—"),
    ]
    lines = [
        "# Stack benchmark (all six roles on one machine)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({platform.machine()}), by `python -m bench.stack`.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
