"""Metrics: every role's scrape endpoint on a real stack, and the monitor role's Prometheus scraping them."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from strata.deploy.roles.monitor import client as prometheus
from strata.deploy.roles.monitor.spec import targets
from tests.integration.test_files import Api
from tests.support.client import Client
from tests.support.stack import comms_role_toml, domain_role_toml, files_role_toml, free_ports, running_stack
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack():
    app, db, web, status, files, comms, domain, prom, node = free_ports(1, 1, 1, 1, 1, 1, 1, 1, 1)
    extra = (
        f"metrics_port = {db}\n"  # the lines right after write_topology's [roles.db]
        + files_role_toml()
        + f"metrics_port = {files}\n"
        + comms_role_toml(metrics_port=comms)
        + domain_role_toml(metrics_port=domain)
        + f'\n[roles.monitor]\nhosts = ["local"]\nport = {prom}\nnode_port = {node}\nscrape_seconds = 1\n'
    )
    with running_stack(
        "strata-metrics-",
        extra=extra,
        app=f"metrics_port = {app}",
        web=f"metrics_port = {web}\nstatus_port = {status}",
    ) as s:
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


def test_every_endpoint_answers_and_prometheus_has_them_all_up(stack):
    jobs = {t.job for t in targets(stack.config)}
    assert jobs == {"web", "app", "db", "files", "comms", "domain", "node", "prometheus"}
    for t in targets(stack.config):
        assert scrape(t.url), t

    def of(job):
        return scrape(next(t.url for t in targets(stack.config) if t.job == job))

    assert total(of("db"), "pg_up") == 1
    assert total(of("web"), "nginx_up") == 1
    assert total(of("node"), "node_filesystem_size_bytes") > 0
    comms = of("comms")
    assert ("postfix_queue_length", (("queue", "deferred"),)) in comms
    # The directory's counters: a bind (the deployer's, at start) has been counted.
    domain = of("domain")
    assert total(domain, "slapd_up") == 1
    assert total(domain, "slapd_operations_total", operation="bind") >= 1
    assert total(of("files"), "SeaweedFS_volumeServer_volumes") >= 0

    def all_up():
        answer = prometheus.get_json(stack.config, "/api/v1/targets")
        health = {(t["labels"]["job"], t["health"]) for t in answer["data"]["activeTargets"]}
        return (
            health
            if {job for job, h in health if h == "up"} == jobs and all(h == "up" for _j, h in health)
            else None
        )

    health = wait_for(all_up, timeout=60, what="every target up in Prometheus")
    assert {job for job, _h in health} == jobs


def test_status_page_shows_each_app_servers_last_minute_and_links_the_endpoints(stack):
    admin = Client(stack.url, stack.ca)
    assert "/people/" in admin.login(*stack.admin).url

    def seen():
        # Requests all along: a rate needs two scrapes with the counter grown between them (a series
        # first scraped after the only requests would stay at rate 0).
        assert admin.get("/people/").status == 200
        rates = prometheus.app_server_rates(stack.config)
        return rates if any(r.rate > 0 and r.p99_ms is not None for r in rates) else None

    rates = wait_for(seen, timeout=120, what="Prometheus's request rate of an app server")
    assert {r.server for r in rates} <= {"app-1", "app-2"}
    page = admin.get("/status/")
    assert page.status == 200
    rows = page.text.split('id="app-rates"', 1)[1].split("</table>", 1)[0]
    busy = next(r for r in rates if r.rate > 0)
    assert f"<td>{busy.server}</td>" in rows
    assert " ms</td>" in rows
    for t in targets(stack.config):
        assert f'href="{t.url}"' in page.text


def test_upload_and_download_bytes_are_counted(stack):
    before = app_metrics(stack)
    admin = Api(stack, *stack.admin)
    data = b"metrics " * 125  # 1000 bytes
    status, f = admin.put("counted.bin", data)
    assert status == 201, f
    status, _headers, body = admin.get(f"/files/file/{f['id']}/download")
    assert status == 200
    assert body == data
    after = app_metrics(stack)
    for name in ("strata_upload_bytes_total", "strata_download_bytes_total"):
        assert total(after, name) == total(before, name) + len(data), name
