"""Helpers for the domain-role tests: a stack with a real slapd, and LDAP counters."""

from __future__ import annotations

import functools
import http.client
import urllib.request
from pathlib import Path

import ldap
import pytest

from strata.deploy.roles.domain.client import connect, connect_admin, tree
from strata.deploy.roles.domain.role import SLAPD
from tests.support.client import Client
from tests.support.stack import IN_CI, Stack, domain_role_toml, require_servers, running_stack, strata


def require_slapd() -> None:
    require_servers()
    if not Path(SLAPD).exists():
        message = f"{SLAPD} is not installed (make test installs slapd)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def start_domain_stack(prefix: str):
    """Yield a Stack whose topology includes the domain role; always stop it and remove its files."""
    require_slapd()
    # A sync period far beyond the test run: no scheduled LDAP traffic interferes with the counters.
    with running_stack(prefix, extra=domain_role_toml(sync_seconds=86400)) as stack:
        yield stack


def admin_ldap(stack: Stack):
    return connect_admin(stack.config, stack.secrets)


def ldap_operations(stack: Stack) -> int:
    """Return slapd's count of operations initiated so far (cn=Monitor), read as the directory admin."""
    conn = admin_ldap(stack)
    try:
        res = conn.search_s(
            "cn=Operations,cn=Monitor", ldap.SCOPE_BASE, "(objectClass=*)", ["monitorOpInitiated"]
        )
    finally:
        conn.unbind_s()
    return int(res[0][1]["monitorOpInitiated"][0])


def person_attrs(stack: Stack, uid: str) -> dict | None:
    conn = admin_ldap(stack)
    try:
        return conn.search_s(tree(stack.config).person(uid), ldap.SCOPE_BASE, "(objectClass=*)", ["*", "+"])[
            0
        ][1]
    except ldap.NO_SUCH_OBJECT:
        return None
    finally:
        conn.unbind_s()


def bind_as(stack: Stack, dn: str, password: str):
    return connect(stack.config, dn, password)


def reset_lockouts(stack: Stack) -> None:
    """Clear every login limit of STACK (`strata users unlock --all`)."""
    proc = strata(stack, "users", "unlock", "--all")
    assert proc.returncode == 0, proc.stderr


class _SourceHTTPSHandler(urllib.request.HTTPSHandler):
    """HTTPS from a chosen loopback source address (another "client address" for nginx)."""

    def __init__(self, source: str, context):
        super().__init__(context=context)
        self.source = source

    def https_open(self, req):
        conn = functools.partial(http.client.HTTPSConnection, source_address=(self.source, 0))
        return self.do_open(conn, req, context=self._context)


def client_from(stack: Stack, source: str) -> Client:
    """Return a test client whose connections come from SOURCE (e.g. 127.0.0.2)."""
    import http.cookiejar
    import ssl

    c = Client(stack.url, stack.ca)
    ctx = ssl.create_default_context(cafile=str(stack.ca))
    c.jar = http.cookiejar.CookieJar()
    c.opener = urllib.request.build_opener(
        _SourceHTTPSHandler(source, ctx), urllib.request.HTTPCookieProcessor(c.jar)
    )
    return c
