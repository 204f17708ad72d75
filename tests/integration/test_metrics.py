"""Metrics: every role's scrape endpoint on a real stack, and the monitor role's Prometheus scraping them."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import Client
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack():
    with running_stack("strata-metrics-") as s:
        yield s


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Return every sample of the endpoint at URL: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    """Return the sum of NAME's samples whose labels include LABELS."""
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def app_metrics(stack) -> dict:
    return scrape(f"http://127.0.0.1:{stack.config.roles['app']['metrics_port']}/metrics")


def test_app_metrics_count_requests_logins_and_queues(stack):
    before = app_metrics(stack)
    client = Client(stack.url, stack.ca)
    for _ in range(3):
        assert client.get("/accounts/login/").status == 200
    assert client.login("nobody", "wrong password").status == 200
    after = app_metrics(stack)
    view = {"view": "accounts:login", "method": "GET", "status": "200"}
    assert (
        total(after, "strata_http_requests_total", **view)
        >= total(before, "strata_http_requests_total", **view) + 4
    )
    assert total(after, "strata_login_failures_total") == total(before, "strata_login_failures_total") + 1
    assert total(after, "strata_http_request_duration_seconds_count", view="accounts:login") > total(
        before, "strata_http_request_duration_seconds_count", view="accounts:login"
    )
    assert total(after, "strata_db_queries_total", view="accounts:login") > total(
        before, "strata_db_queries_total", view="accounts:login"
    )
    # Each app server's counts carry its name; the queues come from the database.
    servers = {dict(ls).get("server") for (n, ls) in after if n == "strata_http_requests_total"}
    assert servers
    assert servers <= {"app-1", "app-2"}
    assert total(after, "strata_metrics_database_up") == 1
    assert ("strata_task_queue_depth", ()) in after
    assert ("strata_notification_backlog_seconds", ()) in after
