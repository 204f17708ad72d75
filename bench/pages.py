"""Benchmark an authenticated folder page against a bare Django view, side by side (P1).

Both through the real stack: HTTPS to nginx -> gunicorn (2 instances) -> Django; wrk with 32 connections
for 10 s each. The folder page holds 50 files, rendered for a logged-in person; the bare view (/livez)
touches no dependency. The same two pages are then measured straight at one app instance (plain HTTP, no
nginx, no TLS: what the app alone does), and in the site's Django with the test client (the app time of
one request, with each way of keeping sessions side by side). The pools' connections and waits are read
from PostgreSQL and from each app worker's /healthz.
Run as root: .venv/bin/python -m bench.pages   (writes bench/reports/pages.md)
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import resource
import statistics
import subprocess
from pathlib import Path

from bench import in_site
from strata.deploy.roles.app.client import get_healthz
from strata.deploy.roles.app.spec import THREADS
from strata.deploy.roles.app.spec import workers as app_workers
from tests.support.client import Client
from tests.support.stack import running_stack

REPORT = Path(__file__).parent / "reports" / "pages.md"
CONNECTIONS, SECONDS = 32, 10


def process_cpu() -> dict[str, tuple[str, float]]:
    """Return {PID: (program name, CPU seconds used, user + system)} of every running process (the name
    from /proc/PID/comm: nginx, gunicorn, postgres, ...), and wrk's own under "wrk", read from this
    process's children (it has exited by then). By PID, since a kernel worker renames itself for each
    kind of work it does: compared by name, its whole life's CPU would count as new."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[str, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        out[pid] = (name, (int(fields[11]) + int(fields[12])) / tick)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["wrk"] = ("wrk", children.ru_utime + children.ru_stime)
    return out


def cpu_split(
    before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]], requests: float
) -> tuple[dict[str, float], str]:
    """Return the CPU ms per request of the app servers (gunicorn), nginx, wrk, PostgreSQL and the rest,
    between two process_cpu() readings over REQUESTS requests, and the rest's three largest by name."""
    groups = {"gunicorn": "app servers", "nginx": "nginx", "wrk": "wrk", "postgres": "PostgreSQL"}
    split = dict.fromkeys([*groups.values(), "the rest"], 0.0)
    rest: dict[str, float] = {}
    per = 1000 / max(requests, 1)
    for pid, (name, seconds) in after.items():
        used = (seconds - before.get(pid, (name, 0.0))[1]) * per
        group = next((g for p, g in groups.items() if name.startswith(p)), "the rest")
        split[group] += used
        if group == "the rest":
            rest[name] = rest.get(name, 0.0) + used
    top = sorted(rest.items(), key=lambda kv: -kv[1])[:3]
    return split, ", ".join(f"{name} {ms:.3f} ms" for name, ms in top)


def wrk(url: str, cookie: str = "", headers: tuple[str, ...] = (), warm: int = 1) -> dict:
    """Measure URL with wrk (CONNECTIONS connections, SECONDS s) after WARM seconds of the same load that
    are not counted: every app worker has then served the page once at least (its per-process caches and
    compiled templates), so the figures are the steady state people get, not the first requests after a
    start (measured apart: those first requests made p99 alone 3-5x the rest)."""
    cmd = ["wrk", f"-t{min(2, CONNECTIONS)}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url]
    for header in ((f"Cookie: {cookie}",) if cookie else ()) + headers:
        cmd[1:1] = ["-H", header]
    if warm:
        warm_cmd = [f"-d{warm}s" if a.startswith("-d") else a for a in cmd]
        subprocess.run(warm_cmd, capture_output=True, check=True, timeout=warm * 3 + 10)
    before = process_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=SECONDS * 3).stdout
    after = process_cpu()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    cpu, rest = cpu_split(before, after, rps * SECONDS)
    return {
        "rps": rps,
        # CPU ms per request by program, over the measured run (the whole machine's: run nothing beside)
        "cpu": cpu,
        "rest": rest,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "bad": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


def alternating(runs: dict[str, tuple[str, str, tuple[str, ...]]], rounds: int = 3) -> dict[str, dict]:
    """Measure each of RUNS ({label: (url, cookie, headers)}) ROUNDS times, alternating the order round by
    round, and return each one's median figures: a burst of work elsewhere on the machine (a shared VM's
    neighbours, a log flush) then hits one short run of each page, not the whole of one page's figure."""
    seen: dict[str, list[dict]] = {label: [] for label in runs}
    for n in range(rounds):
        for label in list(runs) if n % 2 == 0 else list(reversed(runs)):
            url, cookie, headers = runs[label]
            seen[label].append(wrk(url, cookie, headers, warm=1 if n == 0 else 0))
    out = {}
    for label, results in seen.items():
        middle = sorted(results, key=lambda r: r["rps"])[len(results) // 2]
        out[label] = {
            **middle,  # the median run's own CPU split and "the rest"
            "p50": statistics.median(r["p50"] for r in results),
            "p99": statistics.median(r["p99"] for r in results),
            "bad": sum(r["bad"] for r in results),
            "runs": [round(r["rps"]) for r in results],
        }
    return out


POOL_KEYS = ("requests_num", "requests_queued", "requests_wait_ms")


def pool_counters(stack) -> dict[int, dict]:
    """Return each app worker's pool counters (psycopg_pool get_stats, by pid) from /healthz calls."""
    seen: dict[int, dict] = {}
    for inst in stack.config.app_instances():
        for _ in range(16):  # each call reaches one worker of the instance
            pool = get_healthz(inst.host.address, inst.port).get("pool", {})
            if pool:
                seen[pool["pid"]] = pool
    return seen


def pool_delta(before: dict[int, dict], after: dict[int, dict]) -> dict[str, int]:
    """Sum the counters' growth over the workers seen both times (the /healthz calls themselves included)."""
    both = before.keys() & after.keys()
    total = {k: sum(after[p].get(k, 0) - before[p].get(k, 0) for p in both) for k in POOL_KEYS}
    total["workers_seen"] = len(both)
    return total


def row(label: str, r: dict, target: str = "") -> str:
    return f"| {label} | {r['rps']:.0f} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['bad']} | {target} |"


def main() -> None:
    load = os.getloadavg()
    with running_stack("strata-bench-pages-") as stack:
        space_id, folder_id = stack.call(in_site.folder_of_files, "bench", "bench-pass-2026", 50)
        client = Client(stack.url, stack.ca)
        client.login("bench", "bench-pass-2026")
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
        path = f"/files/space/{space_id}/folder/{folder_id}/"
        assert client.get(path).text.count("report-") >= 50
        # wrk does not verify certificates; the site's own CA is checked by the client above.
        bare = wrk(f"{stack.url}/livez")
        counters = pool_counters(stack)
        folder = wrk(stack.url + path, cookie)
        pools = pool_delta(counters, pool_counters(stack))
        conns = stack.call(in_site.app_connections)
        inst = stack.config.app_instances()[0]
        direct = f"http://{inst.host.address}:{inst.port}"
        host = ("Host: localhost", "X-Forwarded-Proto: https")
        bare_direct = wrk(f"{direct}/livez", headers=host)
        folder_direct = wrk(direct + path, cookie, headers=host)
        in_app = stack.call(in_site.time_session_variants, "bench", path, timeout=600)
        cfg = stack.config.roles
        instances, workers, pool_size = (
            len(stack.config.app_instances()),
            app_workers(stack.config, stack.config.app_instances()[0].host.name),
            cfg["db"]["pool_size"],
        )
    ratio = folder["rps"] / bare["rps"]
    ratio_direct = folder_direct["rps"] / bare_direct["rps"]
    live = in_app["live cache (the site's setting)"]
    lines = [
        "# Page benchmark (P1)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}, `python -m bench.pages`: "
        f"wrk, {CONNECTIONS} connections, {SECONDS} s each, HTTPS through nginx to {instances} app instances "
        f"({workers} workers x {THREADS} threads each); client and servers share the machine's 2 cores "
        f"(load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| page | req/s | p50 | p99 | non-2xx | target |",
        "|---|---|---|---|---|---|",
        row("bare Django view (`/livez`)", bare),
        row("folder page, 50 files, logged in", folder, "p99 < 50 ms"),
        f"| ratio folder / bare | {ratio:.2f}× | | | | ≥ 0.5× |",
        "",
        "## Where the time goes",
        "",
        "The same two pages straight at one app instance (plain HTTP, no nginx, no TLS; one instance, so "
        "half the app servers):",
        "",
        "| page | req/s | p50 | p99 | non-2xx |",
        "|---|---|---|---|---|",
        row("`/livez`, one app instance directly", bare_direct)[:-3],
        row("folder page, one app instance directly", folder_direct)[:-3],
        f"| ratio folder / bare, app alone | {ratio_direct:.2f}× | | | |",
        "",
        "App time of one request, in the site's Django (test client, one request at a time, 200 requests; "
        "the session and user kept three ways, side by side):",
        "",
        "| how sessions and the user are kept | median | p95 | queries |",
        "|---|---|---|---|",
        *(
            f"| {label} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['queries']} |"
            for label, r in in_app.items()
        ),
        "",
        f"The folder page costs {live['median_ms']:.2f} ms of app time against "
        f"{in_app['/livez (no session, no query)']['median_ms']:.2f} ms for `/livez`: under wrk the rest of "
        f"the p50 ({folder['p50']:.1f} ms) is waiting for a thread and a core (32 connections on 2 cores "
        "shared by wrk, nginx, gunicorn and PostgreSQL), nginx and TLS.",
        "",
        "## Database pool",
        "",
        f"Each worker's pool holds up to {pool_size} connections for its {THREADS} threads "
        f"({instances * workers * pool_size} at most for {instances * workers} workers). After the runs "
        f"PostgreSQL saw {conns['pooled']} pooled connections of the app's user (the task worker's and "
        f"scheduler's included) and {conns['listeners']} live-cache listeners. Over "
        f"{pools['workers_seen']} workers, during the folder page's run, {pools['requests_num']} "
        "connection requests waited "
        f"{pools['requests_queued']} times ({pools['requests_wait_ms']} ms in all)"
        + (": no thread waited for a connection." if not pools["requests_queued"] else "."),
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
