"""Periodic tasks (settings.STRATA_SCHEDULE): enqueued on time for the worker to run."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

log = logging.getLogger("strata.scheduler")


def load() -> dict:
    return {name: (import_string(path), every) for name, (path, every) in settings.STRATA_SCHEDULE.items()}


def enqueue_all() -> list[str]:
    names = []
    for name, (task, _every) in load().items():
        task.enqueue()
        names.append(name)
    return names


def run(stop: threading.Event) -> None:
    """Enqueue each task every period until STOP is set; the first run comes one period after start,
    so restarts do not pile up work."""
    schedule = load()
    due = {name: time.monotonic() + every for name, (_task, every) in schedule.items()}
    log.info("scheduler: %s", ", ".join(f"{n} every {e}s" for n, (_t, e) in schedule.items()) or "nothing")
    while not stop.wait(1):
        now = time.monotonic()
        for name, (task, every) in schedule.items():
            if now >= due[name]:
                try:
                    task.enqueue()
                    log.info("enqueued %s", name)
                except Exception:  # the database may be briefly away: log it, try next period
                    log.exception("could not enqueue %s", name)
                due[name] = now + every
        close_old_connections()


def start_in_thread() -> threading.Event:
    """Run the scheduler beside the worker in the same process; return the event that stops it."""
    stop = threading.Event()
    threading.Thread(target=run, args=(stop,), name="strata-scheduler", daemon=True).start()
    return stop
