from django_tasks import task

from . import actions


@task()
def sync_directory() -> str:
    """Mirror the directory into the database (scheduled as domain.sync; `strata domain sync` runs it)."""
    return actions.sync_directory().summary()
