"""Background tasks of the files app, run by the app role's `worker` program.

Actions enqueue these tasks; the tasks never import actions, so the dependency goes one way.
"""

import hashlib

from django_tasks import task

from . import reconcile
from .models import File
from .storage import backend


def fill_sha256(file_id: int) -> str:
    """Read the object back and record its sha256 (for chunked uploads)."""
    f = File.objects.get(pk=file_id)
    digest = hashlib.sha256()
    for block in backend().read(f.key):
        digest.update(block)
    File.objects.filter(pk=f.pk, sha256="").update(sha256=digest.hexdigest())
    return digest.hexdigest()


@task()
def compute_sha256(file_id: int) -> str:
    """Record the sha256 of a file uploaded in chunks."""
    return fill_sha256(file_id)


@task()
def reconcile_files() -> dict:
    """Scheduled consistency check between rows and objects (see reconcile.py)."""
    return reconcile.run(delete=True).as_dict()
