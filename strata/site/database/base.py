"""Django's PostgreSQL backend, except that a pooled connection the server closed is never given to a request.

A PostgreSQL restart (or pg_terminate_backend, idle_session_timeout) ends every connection sitting idle in
the app workers' pools: each backend sends a FATAL message and closes its end, but psycopg reads that only
when the connection is next used. Before this backend each such connection failed one request with a 503,
whenever it was next taken, long after the database was back (a worker's pool_size of them after every
restart: tests/integration/test_db_restart.py).

psycopg_pool's own `check` (what Django's CONN_HEALTH_CHECKS turns on) costs a round trip on every request
(measured in-process: 129 us per getconn and putconn instead of 18), and after a broken connection it sleeps
before trying the next (0, then 1, 2, 4 s: https://github.com/psycopg/psycopg/pull/711), so after a restart a
worker's first request tried its pool_size broken connections one after the other and failed with the
pool's timeout (measured: a 503 after 5.0 s per worker, answered after the site was back: the drill's
"unexplained" 503s). Here: one poll of the connection's socket, no round trip (psycopg's way of detecting a
disconnection, https://www.psycopg.org/psycopg3/docs/advanced/async.html#detecting-disconnections): a healthy
idle connection has nothing to read. Only when something did arrive is the connection tried for real; a
closed one goes back to the pool, which opens a replacement at once, and the request takes the next.
"""

from __future__ import annotations

import logging
import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
# Seconds a request waits for a new connection after it found its pool's idle ones closed (see below).
REPLACE_TIMEOUT = 1.0


def closed_by_server(conn: psycopg.Connection) -> bool:
    """Return True when CONN, idle in the pool until now, can no longer be used (the server closed it)."""
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if not poller.poll(0):
        return False  # nothing arrived while it was idle: the common case, one system call
    # A FATAL message and the end of the stream, usually; a notice would also wake the poll: ask the server.
    pid = conn.info.backend_pid
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error as exc:
        log.info("pooled connection (backend %s) closed by the server while idle: %s", pid, str(exc).strip())
        return True
    return False


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's, missing from django-stubs: the pool (a property, None without OPTIONS["pool"]) and the level
    # its get_new_connection sets.
    pool: ConnectionPool | None
    isolation_level: Any

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        """Return a connection from the pool that the server has not closed (any, without a pool)."""
        conn = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return conn
        # A restart ends every idle connection of the pool: try each at most once. The pool replaces each
        # one returned closed at once (its worker threads connect), so the last try waits for a new one,
        # REPLACE_TIMEOUT at most: after a restart that is a few milliseconds; while the database is still
        # down, the request is answered 503 within a second (strata.ops.errors), as when it used the closed
        # connection, rather than after the pool's whole timeout.
        for _ in range(pool.max_size):
            if not closed_by_server(conn):
                return conn
            conn.close()
            pool.putconn(conn)
            conn = pool.getconn(REPLACE_TIMEOUT)
            if "isolation_level" in self.settings_dict["OPTIONS"]:
                conn.isolation_level = self.isolation_level  # as Django's get_new_connection does
        return conn
