"""Enqueue the periodic tasks of settings.STRATA_SCHEDULE; runs as the app role's `scheduler` program."""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

log = logging.getLogger("strata.scheduler")


class Command(BaseCommand):
    help = "Enqueue periodic tasks (STRATA_SCHEDULE) for the worker, forever."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="enqueue every task once and exit")

    def handle(self, *args, once=False, **options):
        schedule = {name: (import_string(path), every) for name, (path, every) in
                    settings.STRATA_SCHEDULE.items()}
        if once:
            for name, (task, _every) in schedule.items():
                task.enqueue()
                self.stdout.write(f"enqueued {name}")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        now = time.monotonic()
        # The first run of each comes one period after start, so restarts do not pile up work.
        due = {name: now + every for name, (_task, every) in schedule.items()}
        plan = ", ".join(f"{n} every {e}s" for n, (_t, e) in schedule.items())
        log.info("scheduler: %s", plan or "nothing scheduled")
        while not stopping:
            now = time.monotonic()
            for name, (task, every) in schedule.items():
                if now >= due[name]:
                    task.enqueue()
                    log.info("enqueued %s", name)
                    due[name] = now + every
            time.sleep(1)
