"""Find and fix disagreements between file rows (PostgreSQL) and objects (the file server)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.utils import timezone

from .models import DeletedObject, File, Upload
from .storage import backend


@dataclass
class Report:
    objects: int = 0
    rows: int = 0
    orphans: list[str] = field(default_factory=list)  # objects with no row, older than the grace period
    young_orphans: int = 0  # objects with no row yet: probably uploads in flight
    missing: list[int] = field(default_factory=list)  # rows whose object is gone
    removed: int = 0
    stale_uploads: int = 0  # resumable uploads abandoned for longer than the grace period

    def as_dict(self) -> dict:
        return asdict(self)


def run(delete: bool = False, grace_hours: float | None = None) -> Report:
    """Compare every object with every row; with DELETE remove orphans older than the grace period."""
    hours = settings.STRATA_FILES["reconcile_grace_hours"] if grace_hours is None else grace_hours
    grace = dt.timedelta(hours=hours)
    cutoff = timezone.now() - grace
    store = backend()
    report = Report()
    for upload in Upload.objects.filter(created_at__lt=cutoff):
        report.stale_uploads += 1
        if delete:
            # Frees the quota it reserved and the parts it holds on the file server.
            store.abort(upload.key, upload.backend_upload_id)
            upload.delete()
    known = set(File.objects.values_list("key", flat=True))
    in_flight = set(Upload.objects.values_list("key", flat=True))
    # Deleted files' bytes kept for point-in-time recovery (purged by files.purge, not here).
    in_flight |= set(DeletedObject.objects.values_list("key", flat=True))
    report.rows = len(known)
    present = set()
    for key, modified in store.keys():  # noqa: SIM118 - the storage backend's listing, not a dict
        report.objects += 1
        present.add(key)
        if key in known or key in in_flight:
            continue
        if modified < cutoff:
            report.orphans.append(key)
            if delete:
                store.delete(key)
                report.removed += 1
        else:
            report.young_orphans += 1
    missing = known - present
    if missing:
        report.missing = sorted(File.objects.filter(key__in=missing).values_list("id", flat=True))
        File.objects.filter(key__in=missing, missing_since__isnull=True).update(missing_since=timezone.now())
    File.objects.filter(key__in=present, missing_since__isnull=False).update(missing_since=None)
    return report
