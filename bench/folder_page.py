"""Benchmark the folder page (P5): first page of a 100k-file folder vs a 50-file folder.

Server time and query count are measured inside the app (Django test client against the real
PostgreSQL of a throwaway stack), so network and TLS do not blur them.
Run as root: .venv/bin/python -m bench.folder_page   (writes bench/reports/folder_page.md)
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from pathlib import Path

from tests.support.stack import running_stack

REPORT = Path(__file__).parent / "reports" / "folder_page.md"

SCRIPT = r"""
import json, statistics, time, uuid
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from strata.files import actions
from strata.files.models import File, Folder

user, _ = User.objects.get_or_create(username="bench")
space = actions.personal_space(user)
results = {}
for label, n in (("50 files", 50), ("100,000 files", 100_000)):
    folder = Folder.objects.create(space=space, name=f"bench {n}", created_by=user)
    batch = []
    for i in range(n):
        batch.append(File(space=space, folder=folder, name=f"file-{i:06d}.txt", size=i, key=uuid.uuid4().hex,
                          created_by=user))
        if len(batch) == 5000:
            File.objects.bulk_create(batch)
            batch = []
    File.objects.bulk_create(batch)
    connection.cursor().execute("ANALYZE files_file")
    client = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    url = f"/files/space/{space.id}/folder/{folder.id}/"
    client.get(url)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.status_code
    with CaptureQueriesContext(connection) as q:
        client.get(url)
    results[label] = {"median_ms": statistics.median(times), "p95_ms": sorted(times)[int(len(times) * 0.95)],
                      "queries": len(q.captured_queries)}
print(json.dumps(results))
"""


def main() -> None:
    with running_stack("strata-bench-folder-") as stack:
        out = stack.ctx().manage("shell", "--no-imports", "-c", SCRIPT, timeout=900)
    results = json.loads(out.strip().splitlines()[-1])
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
