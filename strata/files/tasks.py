"""Background tasks of the files app, run by the app role's `worker` program.

Actions enqueue these tasks; the tasks never import actions, so the dependency goes one way.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from . import reconcile
from .models import DeletedObject, File
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


def purge_deleted(now=None) -> int:
    """Delete the objects of files deleted for good longer ago than the recovery window; return how many."""
    days = settings.STRATA_FILES["retention_days"]
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    store = backend()
    purged = 0
    for obj in DeletedObject.objects.filter(deleted_at__lt=cutoff).order_by("id"):
        store.delete(obj.key)
        obj.delete()
        purged += 1
    return purged


@task()
def purge_deleted_objects() -> int:
    """Scheduled: the bytes of deleted files whose recovery window has passed."""
    return purge_deleted()
