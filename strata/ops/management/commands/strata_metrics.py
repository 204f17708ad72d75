"""The app role's `metrics` program: one small HTTP server per app host that Prometheus scrapes.

It listens on roles.app.metrics_port, a port of its own that nginx never proxies and the firewall opens to
the monitor host only; see strata.ops.metrics_server for what it serves.
"""

import ssl
import threading
from pathlib import Path

from django.core.management.base import BaseCommand
from prometheus_client import start_http_server

from strata.ops.metrics_server import registry


class Command(BaseCommand):
    help = "Serve the app servers' Prometheus metrics at /metrics."

    def add_arguments(self, parser):
        parser.add_argument("--address", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument(
            "--instance", action="append", default=[], metavar="NAME=DIR", help="an app server's metrics dir"
        )
        parser.add_argument("--certfile", default=None)
        parser.add_argument("--keyfile", default=None)

    def handle(self, *args, address, port, instance, certfile, keyfile, **options):
        dirs = dict(item.split("=", 1) for item in instance)
        server, _thread = start_http_server(
            port,
            addr=address,
            registry=registry({name: Path(path) for name, path in dirs.items()}),
            certfile=certfile,
            keyfile=keyfile,
            tls_min_version=ssl.TLSVersion.TLSv1_2 if certfile else None,
        )
        self.stdout.write(f"metrics on {address}:{port} for {', '.join(dirs) or 'no app server'}")
        self.stdout.flush()
        # The server runs in a daemon thread; supervisord's TERM ends this process, and so the server.
        threading.Event().wait()
