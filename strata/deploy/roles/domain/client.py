"""The directory's client: its tree of DNs, a verified StartTLS connection, and the health probe.

Used by Django's settings and accounts app and by the deployer; no deployer machinery here.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap

from strata.deploy.config import Config
from strata.deploy.roles.probe import Health, timed

# A login or probe must answer well within 3 s even when the directory host does not answer at all.
TIMEOUT = 2.0


@dataclass(frozen=True)
class Tree:
    """The DNs of the directory: the base tree and the site's own accounts."""

    base: str

    @property
    def people(self) -> str:
        return f"ou=people,{self.base}"

    @property
    def groups(self) -> str:
        return f"ou=groups,{self.base}"

    @property
    def services(self) -> str:
        return f"ou=services,{self.base}"

    @property
    def system(self) -> str:
        return f"ou=system,{self.base}"

    @property
    def admin(self) -> str:
        return f"cn=admin,{self.base}"

    @property
    def app(self) -> str:
        return f"cn=strata-app,{self.system}"

    @property
    def writer(self) -> str:
        return f"cn=strata-writer,{self.system}"

    def person(self, uid: str) -> str:
        return f"uid={ldap.dn.escape_dn_chars(uid)},{self.people}"

    def service(self, uid: str) -> str:
        return f"uid={ldap.dn.escape_dn_chars(uid)},{self.services}"

    def group(self, cn: str) -> str:
        return f"cn={ldap.dn.escape_dn_chars(cn)},{self.groups}"


def tree(config: Config) -> Tree:
    return Tree(config.roles["domain"]["base_dn"])


def server_uri(config: Config) -> str:
    host = config.host_of("domain")
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"ldap://{address}:{config.roles['domain']['port']}"


def connect(config: Config, who: str, password: str, *, timeout: float = TIMEOUT):
    """Open a StartTLS connection to the site's slapd (verified against the local CA) and bind as WHO."""
    conn = ldap.initialize(server_uri(config))
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, timeout)
    conn.set_option(ldap.OPT_TIMEOUT, timeout)
    conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(config.var_dir / "pki" / "ca.crt"))
    conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    conn.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, ldap.OPT_X_TLS_PROTOCOL_TLS1_2)
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # must come last: applies the TLS options above
    try:
        conn.start_tls_s()
        conn.simple_bind_s(who, password)
    except ldap.LDAPError:
        conn.unbind_s()
        raise
    return conn


def connect_admin(config: Config, secrets: dict):
    """Bind as the directory admin (rootdn): for the deployer and the CLI, never the app processes."""
    return connect(config, tree(config).admin, secrets["ldap_admin_password"])


def probe(config: Config, secrets: dict, host) -> Health:
    """Bind as the app's service account over StartTLS and ask who it is."""

    def check():
        conn = connect(config, tree(config).app, secrets["ldap_app_password"])
        try:
            who = conn.whoami_s()
        finally:
            conn.unbind_s()
        return f"LDAP bind ok ({who})"

    return timed(check)
