"""P6 alone: the six-role stack's memory per program (sum of PSS, as bench.run measures it), idle and
after SeaweedFS has moved a few GiB, several samples each. No timing: safe on a shared machine.

One stack as `make bench` starts it (bench.run.topology(), app workers by cores), with this checkout's
code for the app programs (site.code_dir), so a change to a role is what is measured. Samples the
programs every INTERVAL seconds after `up` returns, then (unless --idle-only) uploads ROUNDS files of
256 MiB straight to SeaweedFS with boto3 (the site's part size) and downloads each back, as P2 and P3
do, and samples again. Prints one table and writes it to bench/reports/memory.md; with --json FILE, also
appends one JSON line per run with every reading.

Run as root: .venv/bin/python -m bench.memory [--samples 4] [--interval 15] [--rounds 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from bench.run import pss_by_program, role_of, topology
from strata.deploy.roles.files import client as s3
from strata.deploy.roles.files.role import weed_binary
from tests.support.stack import running_stack

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parent.parent
REPORT = Path(__file__).parent / "reports" / "memory.md"


def weed_processes() -> int:
    """Count the processes on this machine running the same `weed` file as the stack, its own included."""
    weed = os.stat(weed_binary())
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            st = os.stat(entry / "exe") if entry.name.isdigit() else None
        except OSError:
            continue
        count += st is not None and (st.st_dev, st.st_ino) == (weed.st_dev, weed.st_ino)
    return count


def samples(stack, count: int, interval: float) -> list[dict[str, float]]:
    """Return COUNT readings of pss_by_program, INTERVAL seconds apart (the first after INTERVAL), each
    with "weed processes": how many run on the machine. SeaweedFS's binary (~84 MiB of it resident) is
    shared by every weed process, so another stack's weed lowers this stack's PSS (2 = this stack alone)."""
    out = []
    for _ in range(count):
        time.sleep(interval)
        out.append({**pss_by_program(stack), "weed processes": float(weed_processes())})
    return out


def move_bytes(stack, tmp: Path, rounds: int, size_mib: int = 256) -> None:
    """Upload ROUNDS files of SIZE_MIB through SeaweedFS's S3 gateway (multipart, the site's part size,
    one stream) and download each back; delete them after."""
    source = tmp / "memory.bin"
    with source.open("wb") as fh:
        block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
        for _ in range(size_mib):
            fh.write(block)
    part = stack.config.roles["files"]["part_mb"] * MiB
    client = s3.app_client(stack.config, stack.secrets, timeout=120)
    bucket = stack.config.roles["files"]["bucket"]
    cfg = TransferConfig(
        multipart_threshold=part, multipart_chunksize=part, max_concurrency=1, use_threads=False
    )
    keys = [f"bench-memory-{n}" for n in range(rounds)]
    for key in keys:
        client.upload_file(str(source), bucket, key, Config=cfg)
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        while body.read(MiB):
            pass
    for key in keys:
        client.delete_object(Bucket=bucket, Key=key)
    source.unlink()


def summary(readings: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """Per program: (min, median, max) over READINGS."""
    names = sorted({k for r in readings for k in r})
    return {
        k: (min(v), statistics.median(v), max(v)) for k in names if (v := [r.get(k, 0.0) for r in readings])
    }


def table(phases: dict[str, list[dict[str, float]]]) -> list[str]:
    """A markdown table: per program, each phase's median (min-max) over its samples."""
    sums = {phase: summary(r) for phase, r in phases.items()}
    extra = ("total", "weed processes")
    names = sorted({k for s in sums.values() for k in s if k not in extra}, key=lambda k: (role_of(k), k))
    head = "| role | program | " + " | ".join(f"{p}: median (min-max)" for p in phases) + " |"
    lines = [head, "|---|---|" + "---|" * len(phases)]

    def cell(s: dict[str, tuple[float, float, float]], k: str) -> str:
        lo, mid, hi = s.get(k, (0.0, 0.0, 0.0))
        return f"{mid:.0f} ({lo:.0f}-{hi:.0f})"

    for k in [*names, *extra]:
        role = "" if k in extra else role_of(k)
        label = {"total": "whole stack (supervisord's tree)"}.get(k, k)
        lines.append(f"| {role} | {label} | " + " | ".join(cell(s, k) for s in sums.values()) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=4, help="readings per phase")
    parser.add_argument("--interval", type=float, default=15, help="seconds between readings")
    parser.add_argument("--rounds", type=int, default=6, help="256 MiB files moved after the idle readings")
    parser.add_argument("--idle-only", action="store_true", help="no transfers, only the idle readings")
    parser.add_argument("--label", default="", help="a name for this run in the JSON line (no report then)")
    parser.add_argument("--json", type=Path, help="append one JSON line with every reading to this file")
    args = parser.parse_args()
    phases: dict[str, list[dict[str, float]]] = {}
    site = f'code_dir = "{REPO}"'
    with running_stack("strata-bench-memory-", extra=topology(), workers=0, site=site) as stack:
        phases["idle"] = samples(stack, args.samples, args.interval)
        if not args.idle_only:
            move_bytes(stack, stack.root, args.rounds)
            phases["after"] = samples(stack, args.samples, args.interval)
    lines = [
        "# Memory per program (P6), sum of PSS over each program's processes, MiB",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} by `python -m bench.memory` "
        f"({args.samples} samples {args.interval:.0f} s apart per phase; after: {args.rounds} files of "
        "256 MiB uploaded to SeaweedFS and downloaded back). `weed processes`: how many run the same "
        "binary on the machine (2: this stack alone; more lower SeaweedFS's PSS).",
        "",
        *table(phases),
        "",
    ]
    print("\n".join(lines))
    if not args.label:
        REPORT.write_text("\n".join(lines))
    if args.json:
        with args.json.open("a") as fh:
            fh.write(json.dumps({"label": args.label, "when": time.time(), "phases": phases}) + "\n")


if __name__ == "__main__":
    main()
