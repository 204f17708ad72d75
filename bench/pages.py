"""Benchmark an authenticated folder page against a bare Django view, side by side (P1).

Both through the real stack: HTTPS to nginx -> gunicorn (2 instances) -> Django; wrk with 32 connections
for 10 s each. The folder page holds 50 files, rendered for a logged-in person; the bare view (/livez)
touches no dependency. Run as root: .venv/bin/python -m bench.pages   (writes bench/reports/pages.md)
"""

from __future__ import annotations

import datetime as dt
import platform
import re
import subprocess
from pathlib import Path

from bench import in_site
from tests.support.client import Client
from tests.support.stack import running_stack

REPORT = Path(__file__).parent / "reports" / "pages.md"
CONNECTIONS, SECONDS = 32, 10


def wrk(url: str, cookie: str = "") -> dict:
    cmd = ["wrk", f"-t{min(2, CONNECTIONS)}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=SECONDS * 3).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "bad": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


def main() -> None:
    with running_stack("strata-bench-pages-") as stack:
        space_id, folder_id = stack.call(in_site.folder_of_files, "bench", "bench-pass-2026", 50)
        client = Client(stack.url, stack.ca)
        client.login("bench", "bench-pass-2026")
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
        page = f"{stack.url}/files/space/{space_id}/folder/{folder_id}/"
        assert client.get(page.removeprefix(stack.url)).text.count("report-") >= 50
        # wrk does not verify certificates; the site's own CA is checked by the client above.
        bare = wrk(f"{stack.url}/livez")
        folder = wrk(page, cookie)
    ratio = folder["rps"] / bare["rps"]
    lines = [
        "# Page benchmark (P1)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}, `python -m bench.pages`: "
        f"wrk, {CONNECTIONS} connections, {SECONDS} s each, HTTPS through nginx to 2 app instances "
        "(2 workers x 4 threads each); client and servers share the machine's 2 cores.",
        "",
        "| page | req/s | p50 | p99 | non-2xx | target |",
        "|---|---|---|---|---|---|",
        f"| bare Django view (`/livez`) | {bare['rps']:.0f} | {bare['p50']:.1f} ms | {bare['p99']:.1f} ms | "
        f"{bare['bad']} | |",
        f"| folder page, 50 files, logged in | {folder['rps']:.0f} | {folder['p50']:.1f} ms | "
        f"{folder['p99']:.1f} ms | {folder['bad']} | p99 < 50 ms |",
        f"| ratio folder / bare | {ratio:.2f}× | | | | ≥ 0.5× |",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
