"""Benchmark the folder page (P5): first page of a 100k-file folder vs a 50-file folder.

Server time and query count are measured inside the app (Django test client against the real
PostgreSQL of a throwaway stack), so network and TLS do not blur them.
Run as root: .venv/bin/python -m bench.folder_page   (writes bench/reports/folder_page.md)
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

from bench import in_site
from tests.support.stack import running_stack

REPORT = Path(__file__).parent / "reports" / "folder_page.md"


def main() -> None:
    with running_stack("strata-bench-folder-") as stack:
        results = stack.call(in_site.time_folder_pages, timeout=900)
    small, big = results["50 files"], results["100,000 files"]
    lines = [
        "# Folder page benchmark (P5)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}, "
        "`python -m bench.folder_page`: "
        "server time of the first page (50 rows) measured in the app against the real PostgreSQL, "
        "median and p95 of 30 requests.",
        "",
        "| folder | median | p95 | queries | target |",
        "|---|---|---|---|---|",
        f"| 50 files | {small['median_ms']:.1f} ms | {small['p95_ms']:.1f} ms | {small['queries']} | |",
        f"| 100,000 files | {big['median_ms']:.1f} ms | {big['p95_ms']:.1f} ms | {big['queries']} | "
        "< 50 ms, ≤ 8 queries, constant in N |",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
