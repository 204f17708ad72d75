"""Benchmark directory logins (P4): a login request through nginx vs django-auth-ldap's authenticate()
alone against the same slapd, side by side in one run; and LDAP operations per ordinary page.

Starts its own stack with the domain role in a temp dir on free ports (the code `make up` runs),
measures, stops it and writes bench/reports/ldap_login.md. Run as root: .venv/bin/python -m bench.ldap_login
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

from tests.support.client import Client
from tests.support.domain import ldap_operations, start_domain_stack
from tests.support.stack import ok

REPORT = Path(__file__).parent / "reports" / "ldap_login.md"
USER, PASSWORD = "bench", "correct horse battery bench"
LOGINS, PAGES = 150, 300


def timings_ms(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def authenticate_alone(stack) -> list[float]:
    """Time django-auth-ldap's own LDAPBackend.authenticate() in this process, same settings and slapd."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "strata.site.settings"
    os.environ["STRATA_CONFIG"] = str(stack.config.path)
    import django

    django.setup()
    from django_auth_ldap.backend import LDAPBackend

    backend = LDAPBackend()
    assert backend.authenticate(None, username=USER, password=PASSWORD) is not None
    return timings_ms(lambda: backend.authenticate(None, username=USER, password=PASSWORD), LOGINS)


def login_through_nginx(stack) -> list[float]:
    """Time one POST /accounts/login/ (a fresh session each time; the CSRF cookie fetched untimed)."""
    out = []
    for _ in range(LOGINS):
        c = Client(stack.url, stack.ca, follow=False)
        c.get("/accounts/login/")
        t0 = time.perf_counter()
        resp = c.post("/accounts/login/", {"username": USER, "password": PASSWORD})
        out.append((time.perf_counter() - t0) * 1000)
        assert resp.status == 302, resp.status
    return out


def operations(stack) -> tuple[float, float]:
    """Return LDAP operations per login through nginx and per ordinary page (counted by slapd)."""
    reading = -ldap_operations(stack) + ldap_operations(stack)
    before = ldap_operations(stack)
    c = Client(stack.url, stack.ca)
    c.login(USER, PASSWORD)
    per_login = ldap_operations(stack) - before - reading
    before = ldap_operations(stack)
    for i in range(PAGES):
        assert c.get(("/people/", f"/people/{USER}/", "/people/?q=bench")[i % 3]).status == 200
    per_page = (ldap_operations(stack) - before - reading) / PAGES
    return per_login, per_page


def main() -> None:
    with contextlib.contextmanager(start_domain_stack)("strata-bench-ldap-") as stack:
        ok(
            stack,
            "users",
            "add",
            USER,
            "--first-name",
            "Bench",
            "--last-name",
            "Mark",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        ok(stack, "groups", "add", "bench-group")
        ok(stack, "groups", "add-member", "bench-group", USER)
        # Alternate the two measures so both see the same machine load.
        alone, nginx = [], []
        for _ in range(2):
            alone += authenticate_alone(stack)
            nginx += login_through_nginx(stack)
        per_login, per_page = operations(stack)
    ratio = statistics.median(nginx) / statistics.median(alone)
    rows = [
        (
            "django-auth-ldap `authenticate()` alone (StartTLS, bind, read, mirror to the db)",
            f"{statistics.median(alone):.1f} ms",
            f"{p(alone, 0.95):.1f} ms",
            "—",
        ),
        (
            "directory login: POST /accounts/login/ through nginx → gunicorn → slapd",
            f"{statistics.median(nginx):.1f} ms",
            f"{p(nginx, 0.95):.1f} ms",
            "—",
        ),
        ("ratio login request / authenticate() (medians)", f"{ratio:.2f}×", "", "≤ 4× (P4)"),
        ("LDAP operations per login through nginx (counted by slapd)", f"{per_login:.0f}", "", "—"),
        (
            f"LDAP operations per ordinary page ({PAGES} pages, counted by slapd's cn=Monitor)",
            f"{per_page:.2f}",
            "",
            "0 (P4)",
        ),
    ]
    lines = [
        "# Directory login benchmark (P4)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs), by `python -m bench.ldap_login`: {2 * LOGINS} logins each way, one client, "
        f"sequential; slapd, PostgreSQL, nginx and gunicorn (2 instances × 2 workers) on this machine.",
        "",
        "| measure | median | p95 | target |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "The login request adds to `authenticate()`: TLS to nginx, the session and CSRF checks, the "
        "login-limit check (one query), the profile mirror, writing the session and the "
        "redirect.",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
