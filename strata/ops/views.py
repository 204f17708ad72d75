import os
import time

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from strata.deploy import config as strata_config
from strata.deploy import health
from strata.deploy.roles.monitor import client as prometheus
from strata.deploy.roles.monitor.spec import api_url, targets
from strata.ops import topology


def _check_db():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


# One check per dependency of the app servers: name -> (check, critical). A failing critical check makes
# /healthz answer 503 (the app server is unusable); a failing optional role only degrades the app, whose
# fallback or retry takes over, so it is reported without failing the probe.
CHECKS = {"db": (_check_db, True)}
if settings.CONFIG.enabled("domain"):
    from strata.accounts.ldap_link import check_directory

    CHECKS["domain"] = (check_directory, False)  # logins fall back to the emergency admin; sessions live on
if settings.STRATA_COMMS:
    from strata.messaging.health import check_comms

    CHECKS["comms"] = (check_comms, False)  # mail waits in the task queue and is retried while it is down
if settings.CONFIG.enabled("files"):
    from strata.files.storage import check_file_server

    CHECKS["files"] = (check_file_server, False)  # pages and metadata work; transfers answer 503 meanwhile


@never_cache
@require_GET
def livez(request):
    """Answer at once, touching no dependency: the app server process is alive (for load balancers)."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def healthz(request):
    """Report each dependency's health; only direct calls from the web tier or the app hosts."""
    if (
        "STRATA_PROXY_ADDR" in request.META
        or request.META.get("HTTP_X_FORWARDED_FOR")
        or request.META.get("REMOTE_ADDR") not in settings.STRATA_PROBE_ADDRESSES
    ):
        raise Http404
    checks: dict[str, dict[str, bool | float | str]] = {}
    for name, (check, critical) in CHECKS.items():
        start = time.monotonic()
        try:
            check()
            checks[name] = {"ok": True, "critical": critical}
        except Exception as exc:  # noqa: BLE001 - a health check reports, it never raises
            checks[name] = {"ok": False, "critical": critical, "error": type(exc).__name__}
        checks[name]["ms"] = round((time.monotonic() - start) * 1000, 1)
    failing = not all(c["ok"] for c in checks.values() if c["critical"])
    status = "failing" if failing else "ok" if all(c["ok"] for c in checks.values()) else "degraded"
    body = {"status": status, "checks": checks, "pool": _pool_stats()}
    return JsonResponse(body, status=503 if failing else 200)


def _pool_stats() -> dict[str, int]:
    """Return this worker's database pool counters (bench.pages checks that no thread waited)."""
    pool = getattr(connection, "pool", None)
    stats = pool.get_stats() if pool is not None else {}
    keys = ("pool_max", "pool_size", "pool_available", "requests_num", "requests_queued", "requests_wait_ms")
    return {"pid": os.getpid(), **{k: stats.get(k, 0) for k in keys}}


def metrics_context(config) -> dict:
    """Return the status page's metrics: every endpoint, and each app server's last minute from Prometheus
    (or why it could not be read)."""
    if not config.enabled("monitor"):
        return {"metrics": None}
    try:
        rates, rates_error = prometheus.app_server_rates(config), ""
    except (OSError, ValueError) as exc:
        rates, rates_error = [], f"Prometheus did not answer ({type(exc).__name__})"
    return {
        "metrics": {
            "prometheus": api_url(config),
            "targets": targets(config),
            "rates": rates,
            "rates_error": rates_error,
        }
    }


@never_cache
@staff_member_required
@require_GET
def status(request):
    """Show the six roles, where each runs, their health, and the fallback for absent ones."""
    config, secrets = settings.CONFIG, settings.SECRETS
    # Probed from this app server's host: what the firewall lets it reach (all of it on one machine).
    here = os.environ.get(strata_config.ENV_HOST) or None
    roles = health.roles_report(config, secrets, from_host=here)
    links = health.links_report(config, secrets, from_host=here)
    context = {
        "roles": roles,
        "links": links,
        **metrics_context(config),
        "topology": topology.layout(config, roles, links),
        "hosts": config.hosts.values(),
        "url": config.url(),
    }
    return render(request, "ops/status.html", context)
