"""Benchmark the event server (live updates): 1,000 open Server-Sent Event streams held by one app host's
event server, its extra memory, and how long a message to a group of 1,000 takes to reach every stream;
side by side with the same messages reaching a single open stream, in one run.

Starts its own stack in a temp dir on free ports (the code `make up` runs), measures, stops it and writes
bench/reports/events.md. Run as root: .venv/bin/python -m bench.events
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from bench import in_site
from strata.deploy.supervisor import Supervisor
from tests.support.stack import running_stack

REPORT = Path(__file__).parent / "reports" / "events.md"
STREAMS = 1000
MESSAGES = 5
PREFIX, GROUP = "ev", "event-bench"
HOST = "127.0.0.1"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Streams:
    """Open event streams straight to one event server; each records when it got "bench message N"."""

    def __init__(self, port: int):
        self.port = port
        self.received: dict[int, list[float]] = {}
        self.tasks: list[asyncio.Task] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, session: str) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        writer.write(
            f"GET /events/ HTTP/1.1\r\nHost: {HOST}\r\nCookie: sessionid={session}\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        while b"event: ready" not in await reader.readline():
            pass
        self.writers.append(writer)
        self.tasks.append(asyncio.ensure_future(self._read(reader)))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            if line.startswith(b"data: ") and b"bench message " in line:
                now = time.time()
                text = json.loads(line[6:])["text"]
                self.received.setdefault(int(text.rsplit(" ", 1)[1]), []).append(now)

    async def open_all(self, sessions: list[str], batch: int = 100) -> None:
        for i in range(0, len(sessions), batch):
            await asyncio.gather(*(self.open(s) for s in sessions[i : i + batch]))

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in self.writers:
            writer.close()


async def deliver(stack, streams: Streams) -> tuple[list[float], int]:
    """Send MESSAGES group messages (in the site, a thread away) and return each stream's delay (ms) for
    each, and how many deliveries were missing."""
    streams.received.clear()
    sent = await asyncio.get_running_loop().run_in_executor(
        None, lambda: stack.call(in_site.timed_group_messages, PREFIX, GROUP, MESSAGES)
    )
    await asyncio.sleep(2)  # the last message's stragglers (a missing one is counted, not waited for)
    expected = len(streams.writers)
    delays, missing = [], 0
    for i, t0 in enumerate(sent):
        got = streams.received.get(i, [])
        missing += expected - len(got)
        delays += [(t - t0) * 1000 for t in got]
    return delays, missing


async def measure(stack, sessions: list[str], pid: int) -> dict:
    port = stack.config.roles["app"]["events_port"]
    one = Streams(port)
    await one.open_all(sessions[:1])
    single, single_missing = await deliver(stack, one)
    one.close()
    await asyncio.sleep(1)
    before = rss_mb(pid)
    many = Streams(port)
    t0 = time.perf_counter()
    await many.open_all(sessions)
    opened_s = time.perf_counter() - t0
    held = rss_mb(pid)
    fanned, fanned_missing = await deliver(stack, many)
    after = rss_mb(pid)
    many.close()
    return {
        "single": single,
        "single_missing": single_missing,
        "many": fanned,
        "many_missing": fanned_missing,
        "rss_before": before,
        "rss_held": held,
        "rss_after": after,
        "opened_s": opened_s,
    }


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with contextlib.ExitStack() as stack_cm:
        stack = stack_cm.enter_context(running_stack("strata-bench-events-", instances=1))
        sessions = stack.call(in_site.signed_in_group, PREFIX, STREAMS, GROUP)
        pid = Supervisor(stack.config.var_dir).pid("events")
        r = asyncio.run(measure(stack, sessions, pid))
    extra = r["rss_after"] - r["rss_before"]
    single, many = r["single"], r["many"]
    ratio = pct(many, 0.99) / pct(single, 0.99)
    rows = [
        ("event server memory (RSS) with no stream open", f"{r['rss_before']:.1f} MB", "—"),
        (f"… with {STREAMS} streams open", f"{r['rss_held']:.1f} MB", "—"),
        (
            f"… after {MESSAGES} messages to all of them: extra over none open",
            f"{extra:.1f} MB ({extra * 1024 / STREAMS:.0f} KB per stream)",
            "< 150 MB",
        ),
        (
            f"time to open {STREAMS} streams (100 at a time, each authenticated)",
            f"{r['opened_s']:.1f} s",
            "—",
        ),
        (
            "message → 1 open stream: median / p99 / max",
            f"{statistics.median(single):.0f} / {pct(single, 0.99):.0f} / {max(single):.0f} ms",
            "—",
        ),
        (
            f"message → all {STREAMS} open streams: median / p99 / max",
            f"{statistics.median(many):.0f} / {pct(many, 0.99):.0f} / {max(many):.0f} ms",
            "p99 < 1000 ms",
        ),
        ("p99 ratio 1,000 streams / 1 stream", f"{ratio:.1f}×", "—"),
        ("deliveries missing (1 stream, 1,000 streams)", f"{r['single_missing']}, {r['many_missing']}", "0"),
    ]
    lines = [
        "# Event stream benchmark (issue 15: live updates)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs), by `python -m bench.events`: one app host's event server (uvicorn, one "
        f"process), PostgreSQL and the benchmark's client on this machine. {STREAMS} people, each with a "
        f"signed-in session and one stream held open straight to the event server; one sender posts "
        f"{MESSAGES} messages (1 s apart) to their group of {STREAMS} through the messaging action, in a "
        f"separate process: {STREAMS} Event rows and NOTIFYs per message, fanned out by the event server. "
        f"A delay runs from just before the write to the moment the client read the event "
        f"({len(many)} deliveries measured with {STREAMS} streams, {len(single)} with one).",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "With one stream open the same 1,000 events are written and announced (the other 999 people just "
        "have no page open), so the ratio isolates the cost of the fan-out to open streams.",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
