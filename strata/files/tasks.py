from django_tasks import task

from . import actions, reconcile


@task()
def compute_sha256(file_id: int) -> str:
    """Record the sha256 of a file uploaded in chunks."""
    return actions.fill_sha256(file_id)


@task()
def reconcile_files() -> dict:
    """Scheduled consistency check between rows and objects (see reconcile.py)."""
    return reconcile.run(delete=True).as_dict()
