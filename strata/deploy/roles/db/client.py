"""PostgreSQL's health as the app sees it: connect as the app's user over TCP (no deployer machinery)."""

from __future__ import annotations

import contextlib

import psycopg

from strata.deploy.roles.probe import Health, timed


def probe(config, secrets, host) -> Health:
    """Connect as the app's user over TCP and ask the server's version (a SELECT 1 that says more)."""
    db = config.roles["db"]

    def check():
        with contextlib.closing(
            psycopg.connect(
                host=host.address,
                port=db["port"],
                dbname=db["name"],
                user=db["user"],
                password=secrets["db_app_password"],
                connect_timeout=2,
            )
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        assert row is not None  # SHOW always returns one row
        version = row[0]
        return f"PostgreSQL {version}"

    return timed(check)
