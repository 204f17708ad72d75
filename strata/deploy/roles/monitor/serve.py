"""Serve one collector at /metrics: the small probes of the roles without an exporter of their own (the
comms role's Postfix queue, the domain role's slapd cn=Monitor), each a program of its role."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable

from prometheus_client import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry


def main(argv: list[str] | None, make: Callable[[argparse.Namespace], Collector], add_arguments=None) -> None:
    """Parse --address and --port (and what ADD_ARGUMENTS adds), then serve MAKE(args)'s collector until
    the process is stopped (supervisord's TERM)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(make(args))
    start_http_server(args.port, addr=args.address, registry=registry)
    threading.Event().wait()
