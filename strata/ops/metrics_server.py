"""What the app host's `metrics` program serves to Prometheus: each app server's counts and the site's
queues.

- the counts of every gunicorn instance on the host (strata.ops.metrics), read from the instance's
  multiprocess directory and labelled server="app-N";
- gauges read from the database at scrape time: the task queue (depth, age of its oldest ready task) and
  the notification backlog (pending mails, age of the oldest), so they are right whichever process queued
  the work, and one number per site whichever app host is asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from strata.messaging.models import Notification


class InstanceCollector(Collector):
    """Add up one gunicorn instance's processes (its PROMETHEUS_MULTIPROC_DIR), labelled server=NAME."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path

    def collect(self) -> Iterator[Metric]:
        if not self.path.is_dir():
            return
        for family in MultiProcessCollector(None, str(self.path)).collect():
            family.samples = [s._replace(labels={**s.labels, "server": self.name}) for s in family.samples]
            yield family


def _age(oldest) -> float:
    return max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0


class DatabaseCollector(Collector):
    """Read the queues' gauges from the database; strata_metrics_database_up says whether it answered."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("strata_metrics_database_up", "Whether the database answered this scrape.")
        try:
            ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY, run_after__lte=timezone.now())
            task = ready.aggregate(n=Count("pk"), oldest=Min("enqueued_at"))
            pending = Notification.objects.filter(state=Notification.PENDING)
            mail = pending.aggregate(n=Count("pk"), oldest=Min("created_at"))
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        finally:
            # Each scrape is served by a thread of its own: give its connection back.
            connection.close()
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "strata_task_queue_depth", "Tasks ready to run, not yet started.", value=task["n"]
        )
        yield GaugeMetricFamily(
            "strata_task_queue_oldest_seconds",
            "Age of the oldest task ready to run.",
            value=_age(task["oldest"]),
        )
        yield GaugeMetricFamily(
            "strata_notifications_pending", "Notification mails queued, not yet sent.", value=mail["n"]
        )
        yield GaugeMetricFamily(
            "strata_notification_backlog_seconds",
            "Age of the oldest notification mail not yet sent (0: none waiting).",
            value=_age(mail["oldest"]),
        )


def registry(instances: dict[str, Path]) -> CollectorRegistry:
    """Return the registry the program serves: INSTANCES (name -> multiprocess directory) and the queues."""
    out = CollectorRegistry(auto_describe=False)
    for name, path in instances.items():
        out.register(InstanceCollector(name, path))
    out.register(DatabaseCollector())
    return out
