"""Benchmark WebDAV against the JSON API on the same stack, side by side in one run (issue 12).

PUT: a 512 MiB file with one request: `PUT /dav/<username>/<name>` (streamed to S3 multipart as it
     arrives) vs the API's streamed upload `PUT /api/files/uploads/put` (the same upload code underneath).
GET: the same 512 MiB back: `GET /dav/<username>/<name>` vs `GET /api/files/files/ID/content` (both
     answered with X-Accel-Redirect; nginx streams from SeaweedFS).
Rounds alternate which path goes first; the report gives the median of each and the ratio
(API seconds / WebDAV seconds: >= 1 means WebDAV is as fast; the target is >= 0.9).

Run as root: .venv/bin/python -m bench.webdav   (writes bench/reports/webdav.md)
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import platform
import ssl
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from tests.support import in_site
from tests.support.stack import add_people, files_role_toml, running_stack

REPORT = Path(__file__).parent / "reports" / "webdav.md"
MiB = 1024 * 1024
SIZE = 512 * MiB
ROUNDS = 3
USER, PASSWORD = "benchdav", "pw-benchdav-2026"


class Session:
    def __init__(self, stack, headers: dict[str, str]):
        u = urllib.parse.urlsplit(stack.url)
        self.host, self.port, self.headers = u.hostname or "", u.port, headers
        self.ctx = ssl.create_default_context(cafile=str(stack.ca))

    def _conn(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=600, blocksize=MiB)

    def put(self, path: str, source: Path) -> tuple[float, int, bytes]:
        """PUT SOURCE's bytes to PATH; return (seconds, status, body)."""
        conn = self._conn()
        with open(source, "rb") as fh:
            start = time.perf_counter()
            headers = {
                **self.headers,
                "Content-Length": str(SIZE),
                "Content-Type": "application/octet-stream",
            }
            conn.request("PUT", path, body=fh, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            took = time.perf_counter() - start
        conn.close()
        return took, resp.status, body

    def get(self, path: str) -> float:
        """GET PATH, reading and dropping the body; return seconds."""
        conn = self._conn()
        start = time.perf_counter()
        conn.request("GET", path, headers=self.headers)
        resp = conn.getresponse()
        got = 0
        while block := resp.read(MiB):
            got += len(block)
        took = time.perf_counter() - start
        conn.close()
        if resp.status != 200 or got != SIZE:
            raise RuntimeError(f"GET {path}: {resp.status}, {got} bytes")
        return took


def main() -> None:
    times: dict[str, list[float]] = {"dav_put": [], "api_put": [], "dav_get": [], "api_get": []}
    with tempfile.TemporaryDirectory() as tmp, running_stack("strata-bench-dav-", files_role_toml()) as stack:
        source = Path(tmp) / "big.bin"
        with open(source, "wb") as fh:
            block = os.urandom(MiB)
            for _ in range(SIZE // MiB):
                fh.write(block)
        add_people(stack, [{"username": USER, "password": PASSWORD}])
        stack.call(in_site.set_quota, USER, 64 * 1024 * MiB)
        token = stack.call(in_site.issue_token_for, USER, "bench")
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        dav = Session(stack, {"Authorization": f"Basic {basic}"})
        api = Session(stack, {"Authorization": f"Bearer {token}"})
        for n in range(ROUNDS):
            order = ["dav", "api"] if n % 2 == 0 else ["api", "dav"]
            ids: dict[str, str] = {}
            for kind in order:
                if kind == "dav":
                    took, status, body = dav.put(f"/dav/{USER}/round-{n}.bin", source)
                    if status != 201:
                        raise RuntimeError(f"WebDAV PUT: {status} {body[:200]!r}")
                else:
                    took, status, body = api.put(f"/api/files/uploads/put?name=api-round-{n}.bin", source)
                    if status != 201:
                        raise RuntimeError(f"API PUT: {status} {body[:200]!r}")
                    ids["api"] = json.loads(body)["id"]
                times[f"{kind}_put"].append(took)
            for kind in order:
                if kind == "dav":
                    times["dav_get"].append(dav.get(f"/dav/{USER}/round-{n}.bin"))
                else:
                    times["api_get"].append(api.get(f"/api/files/files/{ids['api']}/content"))
    write_report(times)


def write_report(times: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}

    def rate(seconds: float) -> str:
        return f"{SIZE / MiB / seconds:.0f} MiB/s"

    put_ratio, get_ratio = med["api_put"] / med["dav_put"], med["api_get"] / med["dav_get"]
    lines = [
        "# WebDAV vs the JSON API (bench/webdav.py)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs):",
        "one stack (nginx, two app servers, SeaweedFS, PostgreSQL) on one machine, HTTPS through nginx, "
        f"{SIZE // MiB} MiB of random bytes, {ROUNDS} rounds alternating which path goes first; medians.",
        "",
        "| transfer | WebDAV | JSON API | ratio (API s / WebDAV s, target >= 0.9) |",
        "|---|---|---|---|",
        f"| PUT {SIZE // MiB} MiB | {med['dav_put']:.2f} s ({rate(med['dav_put'])}) | "
        f"{med['api_put']:.2f} s ({rate(med['api_put'])}) | {put_ratio:.2f}x |",
        f"| GET {SIZE // MiB} MiB | {med['dav_get']:.2f} s ({rate(med['dav_get'])}) | "
        f"{med['api_get']:.2f} s ({rate(med['api_get'])}) | {get_ratio:.2f}x |",
        "",
        "Every round, in seconds: "
        + "; ".join(f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()),
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
