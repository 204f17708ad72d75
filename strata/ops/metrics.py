"""The app servers' Prometheus metrics (prometheus-client), counted where they happen.

Each gunicorn instance runs with PROMETHEUS_MULTIPROC_DIR set to its own directory (the app role's
var/run/app/metrics/app-N, emptied when the instance starts): every worker process writes its counts there,
and the app host's `metrics` program (strata.ops.management.commands.strata_metrics) adds them up per
instance when Prometheus scrapes. A process without that variable (the task worker, a management command)
counts in its own memory, which nothing reads: the figures below are the app servers'.

Only counters and histograms are kept here (they add up across processes); the gauges (task queue, mail
backlog) are read from the database at scrape time by strata.ops.metrics_db.
"""

from __future__ import annotations

import time

from django.db import connection
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "strata_http_requests_total",
    "Requests answered by the app, by view (URL name), method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "strata_http_request_duration_seconds",
    "Time from the request reaching Django to its answer, by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUERIES = Counter(
    "strata_db_queries_total", "Database queries run while answering requests, by view.", ["view"]
)
LOGIN_FAILURES = Counter("strata_login_failures_total", "Failed logins (wrong username or password).")
UPLOAD_BYTES = Counter("strata_upload_bytes_total", "Bytes of files committed by uploads.")
DOWNLOAD_BYTES = Counter("strata_download_bytes_total", "Bytes of files handed to nginx for download.")


def view_name(request) -> str:
    """Return the URL name of the view that answered REQUEST (its route, never its path: bounded labels)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return match.view_name or match.route or "unnamed"


class MetricsMiddleware:
    """Count each request by view and status, its duration and its database queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        start = time.perf_counter()
        with connection.execute_wrapper(count):
            response = self.get_response(request)
        view = view_name(request)
        LATENCY.labels(view).observe(time.perf_counter() - start)
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        if queries[0]:
            QUERIES.labels(view).inc(queries[0])
        return response


def count_login_failure() -> None:
    LOGIN_FAILURES.inc()


def count_upload(size: int) -> None:
    UPLOAD_BYTES.inc(size)


def count_download(size: int) -> None:
    DOWNLOAD_BYTES.inc(size)
