"""Keep what every page reads (the session, the logged-in user, the nav's figures) in each app process's
memory, exact to within a notification.

PostgreSQL stays the one truth: a value is read from it once, then served from this process's memory
until a row it depends on changes. Triggers on those tables (the migrations named live_cache_*:
django_session and auth_user; messaging's participants for the unread count; files' quota, usage, uploads
and spaces; files and folders for the folder pages' rows and folders) send a NOTIFY on every change,
whichever code (or person, in psql) made it; it is delivered when that transaction commits, to every app
process of every app host, whose listener thread drops the entry. A logout, a password change, `strata
users` ending sessions or a deactivation is seen by all app servers at once (within the notification's
delivery, a few milliseconds on a LAN).

Memory is used only while this process's listener is connected: until it is (and from the moment it loses
its connection, e.g. while PostgreSQL restarts) every lookup goes to the database, as without the cache,
and the cache starts empty again once the listener is back. A read that races with a change cannot store a
stale row: entries are stored only if no notification arrived since the read began (a generation counter).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "strata_live"
MAX_ENTRIES = 20_000  # per process: a session and a user row each, far below a worker's memory
# Kinds whose entries are large (a folder's rendered rows, ~15 KB for 50): at most this many per process.
KIND_LIMITS = {"fr": 256}
# Notice a vanished database host (no FIN, e.g. a network cut) within ~10 s instead of waiting forever.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class LiveCache:
    """Entries keyed by (kind, key), dropped on a NOTIFY whose payload is "kind:key" ("*" drops all)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Any] = {}
        self._counts: dict[str, int] = {}  # entries per kind of KIND_LIMITS
        self._generation = 0
        self._pid = 0
        self._live = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lookups (request threads) ---

    def get(self, kind: str, key: str) -> Any:
        """Return the entry, or None when absent or while the listener is not connected."""
        if not self._ensure_listener():
            return None
        return self._entries.get((kind, key))

    def generation(self) -> int:
        """Return a token to read before a database lookup and pass to put()."""
        return self._generation

    def put(self, kind: str, key: str, value: Any, generation: int) -> None:
        """Store VALUE unless a notification arrived since GENERATION was read (it may be stale)."""
        with self._lock:
            if self._live.is_set() and generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._clear()
                if kind in KIND_LIMITS and (kind, key) not in self._entries:
                    if self._counts.get(kind, 0) >= KIND_LIMITS[kind]:
                        self._drop_kind(kind)
                    self._counts[kind] = self._counts.get(kind, 0) + 1
                self._entries[(kind, key)] = value

    def _clear(self) -> None:
        self._entries.clear()
        self._counts.clear()

    def _drop_kind(self, kind: str) -> None:
        for entry in [e for e in self._entries if e[0] == kind]:
            del self._entries[entry]
        self._counts.pop(kind, None)

    # --- the listener (one thread per process) ---

    def _ensure_listener(self) -> bool:
        if not settings.STRATA_LIVE_CACHE:
            return False
        if self._pid != os.getpid():  # first use in this process (gunicorn forks after loading Django)
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._clear()
                    self._live.clear()
                    self._stop.clear()
                    self._thread = threading.Thread(
                        target=self._listen, name="strata-live-cache", daemon=True
                    )
                    self._thread.start()
        return self._live.is_set()

    def wait_live(self, timeout: float = 10) -> bool:
        """Start the listener if needed and wait until it is connected (tests and benchmarks)."""
        self._ensure_listener()
        return self._live.wait(timeout)

    def stop(self) -> None:
        """Stop the listener and forget every entry (before a test database is dropped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._pid = 0
        self._set_live(False)

    def _set_live(self, live: bool) -> None:
        with self._lock:
            self._generation += 1
            self._clear()
            if live:
                self._live.set()
            else:
                self._live.clear()

    def _drop(self, payload: str) -> None:
        with self._lock:
            self._generation += 1
            if payload == "*":
                self._clear()
                return
            kind, _, key = payload.partition(":")
            if key == "*":  # every entry of that kind
                self._drop_kind(kind)
            elif self._entries.pop((kind, key), None) is not None and kind in self._counts:
                self._counts[kind] -= 1

    def _listen(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                params = connections["default"].get_connection_params()
                with psycopg.connect(**params, **KEEPALIVES, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._set_live(True)
                    delay = 0.2
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1):
                            self._drop(note.payload)
            except Exception as exc:  # noqa: BLE001 - any failure: serve from the database, then retry
                if not self._stop.is_set():
                    log.warning("live cache: listener disconnected (%s); reading from the database", exc)
            finally:
                self._set_live(False)
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)


CACHE = LiveCache()


def cached(kind: str, key: str, compute: Callable[[], T]) -> T:
    """Return the value of COMPUTE() for (KIND, KEY), from memory while no notification dropped it."""
    hit = CACHE.get(kind, key)
    if hit is not None:
        return hit
    generation = CACHE.generation()
    value = compute()
    if value is not None:
        CACHE.put(kind, key, value, generation)
    return value


def notify_trigger(name: str, table: str, payloads: list[str], when: str = "") -> tuple[str, str]:
    """Return (forward, backward) SQL of a trigger on TABLE sending each of PAYLOADS (SQL expressions in
    which {row} stands for the changed row) for every row inserted, updated or deleted, and "*" (drop
    everything) on TRUNCATE. WHEN, if given, limits updates to those it is true for (e.g. one column)."""

    def sends(row: str) -> str:
        return "".join(f"        PERFORM pg_notify('{CHANNEL}', {p.format(row=row)});\n" for p in payloads)

    update = f"TG_OP = 'UPDATE' AND NOT ({when})" if when else "FALSE"
    forward = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('{CHANNEL}', '*');
        RETURN NULL;
    END IF;
    IF {update} THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
{sends("OLD")}    END IF;
    IF TG_OP <> 'DELETE' THEN
{sends("NEW")}    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""
    backward = f"""
DROP TRIGGER IF EXISTS {name} ON {table};
DROP TRIGGER IF EXISTS {name}_truncate ON {table};
DROP FUNCTION IF EXISTS {name}();
"""
    return forward, backward
