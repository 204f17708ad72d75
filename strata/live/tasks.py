"""Background work of the live app: pruning old events (scheduled, settings.STRATA_SCHEDULE)."""

from django_tasks import task

from .actions import prune_events as _prune


@task()
def prune_events() -> int:
    """Delete the events older than settings.STRATA_EVENTS_KEEP_SECONDS."""
    return _prune()
