"""Enqueue the periodic tasks of settings.STRATA_SCHEDULE (the worker runs the same loop in a thread)."""

import signal
import threading

from django.core.management.base import BaseCommand

from strata.ops import schedule


class Command(BaseCommand):
    help = "Enqueue periodic tasks (STRATA_SCHEDULE) for the worker, forever."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="enqueue every task once and exit")

    def handle(self, *args, once=False, **options):
        if once:
            for name in schedule.enqueue_all():
                self.stdout.write(f"enqueued {name}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        schedule.run(stop)
