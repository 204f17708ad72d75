"""The app role's background worker: django-tasks' database worker, plus (on one app host) the scheduler
in a thread of the same process, so periodic work costs no process of its own."""

from django_tasks_db.management.commands.db_worker import Command as DbWorker

from strata.ops import schedule


class Command(DbWorker):
    help = "Run queued tasks; with --scheduler also enqueue the periodic ones."
    # No system checks at start (`up` runs `check --deploy` before it starts the servers): the URL check
    # imports every view module, memory the worker kept for its whole life (P6: worker 74 -> 56 MiB PSS
    # idle, bench.memory). A task that reverses a URL loads the URLconf when it first needs it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--scheduler", action="store_true", help="also run the periodic-task scheduler")

    def handle(self, *args, scheduler=False, **options):
        stop = schedule.start_in_thread() if scheduler else None
        try:
            super().handle(*args, **options)
        finally:
            if stop is not None:
                stop.set()
