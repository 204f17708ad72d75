"""The comms role's metrics probe (program `comms-exporter`): Postfix's queue sizes, counted at scrape time.

Postfix ships no exporter; what an admin needs from it is how much mail waits, and where. Each message is
one file in a queue directory (maildrop, incoming, active, deferred, hold), so counting the files is what
`postqueue -p` reports, without parsing its text. Runs as the postfix user (the queues are its own).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from strata.deploy.roles.monitor.serve import main

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


class QueueCollector(Collector):
    def __init__(self, queue_directory: Path):
        self.root = queue_directory

    def collect(self) -> Iterator[Metric]:
        size = GaugeMetricFamily("postfix_queue_length", "Messages in each Postfix queue.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "postfix_queue_oldest_seconds",
            "Age of the oldest message of each queue (0: empty).",
            labels=["queue"],
        )
        now = time.time()
        for queue in QUEUES:
            count, first = 0, now
            for _dir, _subdirs, files in os.walk(self.root / queue):
                for name in files:
                    count += 1
                    try:
                        first = min(first, os.stat(os.path.join(_dir, name)).st_mtime)
                    except FileNotFoundError:  # delivered while we counted
                        count -= 1
            size.add_metric([queue], count)
            oldest.add_metric([queue], now - first)
        yield size
        yield oldest


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue-directory", required=True, type=Path)


if __name__ == "__main__":
    main(None, lambda args: QueueCollector(args.queue_directory), _arguments)
