"""PostgreSQL's health as the app sees it: connect as the app's user over TCP (no deployer machinery)."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from strata.deploy.roles.probe import Health, timed


def tls_options(config) -> dict[str, Any]:
    """Return libpq's TLS parameters for the app's connections: verify-full against the site CA when the
    database is reached across hosts (Config.tls_into), else none (one machine: plain, on loopback)."""
    if not config.tls_into("db"):
        return {}
    # No client certificate: the app authenticates with its password (SCRAM). Without sslcertmode, libpq
    # tries $HOME/.postgresql/postgresql.crt and fails when $HOME is one the app's user cannot read.
    return {"sslmode": "verify-full", "sslrootcert": str(config.ca_cert), "sslcertmode": "disable"}


def app_connection(config, secrets, host=None, timeout: int = 2) -> psycopg.Connection:
    """Return a connection to the site's database on HOST (default: the db host) as the app's user, over
    TLS when it is on another host; the caller closes it."""
    db = config.roles["db"]
    return psycopg.connect(
        host=(host or config.host_of("db")).address,
        port=db["port"],
        dbname=db["name"],
        user=db["user"],
        password=secrets["db_app_password"],
        connect_timeout=timeout,
        **tls_options(config),
    )


def probe(config, secrets, host) -> Health:
    """Connect as the app's user over TCP and ask the server's version (a SELECT 1 that says more)."""

    def check():
        with contextlib.closing(app_connection(config, secrets, host)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            tls = conn.pgconn.ssl_in_use
        assert row is not None  # SHOW always returns one row
        version = row[0]
        return f"PostgreSQL {version}" + (" over TLS" if tls else "")

    return timed(check)
