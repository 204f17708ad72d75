"""WsgiDAV's lock storage in the database, so that every app server sees every lock and its timeout."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.db.models import Q
from wsgidav.lock_man.lock_manager import LockManager, generate_lock_token, normalize_lock_root, validate_lock
from wsgidav.lock_man.lock_storage import LockStorageDict

from .models import Lock

# The PostgreSQL advisory lock that makes "check for conflicts, then create" one step across app servers.
ACQUIRE_KEY = 0x5354_4441_5601  # "STDAV" + 1: any bigint unique to this use
MAX_TIMEOUT = LockStorageDict.LOCK_TIME_OUT_MAX
DEFAULT_TIMEOUT = LockStorageDict.LOCK_TIME_OUT_DEFAULT


def _dump(lock: dict) -> dict:
    # The owner is the client's XML as bytes: latin-1 carries any byte through JSON unchanged.
    return {**lock, "owner": lock["owner"].decode("latin-1")}


def _load(row: Lock) -> dict:
    return {**row.data, "owner": row.data["owner"].encode("latin-1")}


def _live() -> Q:
    return Q(expire__lt=0) | Q(expire__gte=time.time())


class DatabaseLockStorage:
    """The interface of wsgidav.lock_man.lock_storage.LockStorageDict, over the dav.Lock table."""

    def __repr__(self) -> str:
        return "DatabaseLockStorage"

    def open(self) -> None:
        """Nothing to open: the site's database connection is used."""

    def close(self) -> None:
        """Nothing to close."""

    def cleanup(self) -> None:
        """Purge expired locks."""
        Lock.objects.filter(expire__gte=0, expire__lt=time.time()).delete()

    def clear(self) -> None:
        Lock.objects.all().delete()

    def get(self, token: str) -> dict | None:
        """Return the live lock TOKEN names, or None (an expired one is purged)."""
        row = Lock.objects.filter(token=token).first()
        if row is None:
            return None
        if 0 <= row.expire < time.time():
            row.delete()
            return None
        return _load(row)

    def create(self, path: str, lock: dict) -> str:
        """Store a new lock on PATH; return its token (LOCK is completed with root, timeout, expire)."""
        root = normalize_lock_root(path)
        timeout = float(lock.get("timeout") or DEFAULT_TIMEOUT)
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        lock.update(root=root, timeout=timeout, expire=time.time() + timeout)
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        Lock.objects.create(token=lock["token"], root=root, expire=lock["expire"], data=_dump(lock))
        return lock["token"]

    def refresh(self, token: str, *, timeout: float) -> dict:
        """Give lock TOKEN a new TIMEOUT (seconds; -1 or too long: the maximum); return it."""
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        row = Lock.objects.get(token=token)
        row.data.update(timeout=timeout, expire=time.time() + timeout)
        row.expire = row.data["expire"]
        row.save(update_fields=["data", "expire"])
        return _load(row)

    def delete(self, token: str) -> bool:
        """Remove lock TOKEN; return False when there was none."""
        return bool(Lock.objects.filter(token=token).delete()[0])

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool, token_only: bool):
        """Return the live locks rooted at PATH (INCLUDE_ROOT) and/or below it (INCLUDE_CHILDREN)."""
        root = normalize_lock_root(path)
        where = Q(pk__in=[])
        if include_root:
            where |= Q(root=root)
        if include_children:
            where |= Q(root__startswith=root.rstrip("/") + "/")
        rows = Lock.objects.filter(where).filter(_live())
        if token_only:
            return [row.token for row in rows]
        return [_load(row) for row in rows]


class DatabaseLockManager(LockManager):
    """WsgiDAV's lock manager with LOCK made atomic across app servers: its own guard is a lock of one
    process, so two servers could both find no conflict and both grant a lock on the same resource. The
    check and the new row run in one transaction holding a PostgreSQL advisory lock (LOCK requests are
    rare; one key for all of them keeps it simple)."""

    def acquire(self, **kwargs):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ACQUIRE_KEY])
            return super().acquire(**kwargs)
