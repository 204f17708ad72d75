"""Connections from Django to the site's slapd, with the credentials each caller may use."""

from __future__ import annotations

import contextlib

import ldap
from django.conf import settings

from strata.deploy.roles.domain.client import connect, tree

# A directory that cannot be reached (as opposed to one that refuses the request).
UNAVAILABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY)


class DirectoryUnavailable(Exception):
    """The directory server did not answer."""


def domain_enabled() -> bool:
    return settings.CONFIG.enabled("domain")


def site_tree():
    return tree(settings.CONFIG)


_ACCOUNTS = {
    # The app servers: read-only on people, groups and services.
    "app": (lambda t: t.app, "ldap_app_password"),
    # The web admin's narrow write path: people and groups only (see the role's ACLs).
    "writer": (lambda t: t.writer, "ldap_writer_password"),
    # The directory admin: the CLI and the deployer only (they run as root on a site host).
    "admin": (lambda t: t.admin, "ldap_admin_password"),
}


@contextlib.contextmanager
def bound(account: str = "app"):
    """Yield a connection bound as ACCOUNT; raise DirectoryUnavailable when slapd does not answer."""
    dn_of, secret = _ACCOUNTS[account]
    try:
        conn = connect(settings.CONFIG, dn_of(site_tree()), settings.SECRETS[secret])
    except UNAVAILABLE as exc:
        raise DirectoryUnavailable(f"directory unavailable ({_describe(exc)})") from None
    try:
        yield conn
    except UNAVAILABLE as exc:
        raise DirectoryUnavailable(f"directory unavailable ({_describe(exc)})") from None
    finally:
        with contextlib.suppress(ldap.LDAPError):
            conn.unbind_s()


def _describe(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(info.get("desc") or type(exc).__name__)


def text(attrs: dict, name: str) -> str:
    """Return the first value of attribute NAME as text ("" when absent)."""
    # python-ldap gives bytes; django-auth-ldap's searches give str.
    values = attrs.get(name) or []
    if not values:
        return ""
    return values[0].decode("utf-8", "replace") if isinstance(values[0], bytes) else values[0]


def normalize_dn(dn: str) -> str:
    return ldap.dn.dn2str(ldap.dn.str2dn(dn.lower())) if dn else ""


def check_directory() -> None:
    """Bind as the app's service account (the /healthz check of the domain role)."""
    with bound("app") as conn:
        conn.whoami_s()
