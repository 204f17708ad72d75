"""Benchmark set-ups and in-app measurements that run inside a live stack's Django, through Stack.call.

As in tests/support/in_site.py, Django is not set up in the process that names these functions, so the
site's code is imported inside each one.
"""

from __future__ import annotations

from typing import Any


def _session_backend() -> str:
    """The site's authentication backend a test client's session names: Django's own, or the directory's
    when the domain role is on (its get_user reads the same User rows)."""
    from django.conf import settings

    backends = settings.AUTHENTICATION_BACKENDS
    return next((b for b in backends if b.endswith(("ModelBackend", "DirectoryBackend"))), backends[0])


def folder_of_files(username: str, password: str, files: int) -> list[int]:
    """Create USERNAME (or reset their PASSWORD) and a folder of FILES rows in their personal space;
    return [space id, folder id]."""
    import uuid

    from django.contrib.auth.models import User

    from strata.files import actions
    from strata.files.models import File, Folder

    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    space = actions.personal_space(user)
    folder = Folder.objects.create(space=space, name="fifty", created_by=user)
    File.objects.bulk_create(
        File(
            space=space,
            folder=folder,
            name=f"report-{i:02d}.pdf",
            size=1000 + i,
            key=uuid.uuid4().hex,
            created_by=user,
        )
        for i in range(files)
    )
    return [space.id, folder.id]


def time_folder_pages() -> dict[str, dict[str, Any]]:
    """Return the server time (median and p95 of 30 requests, ms) and query count of the first page of a
    50-file and of a 100,000-file folder, rendered in the site by Django's test client."""
    import statistics
    import time
    import uuid

    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from strata.files import actions
    from strata.files.models import File, Folder

    user, _ = User.objects.get_or_create(username="bench")
    space = actions.personal_space(user)
    results = {}
    for label, n in (("50 files", 50), ("100,000 files", 100_000)):
        folder = Folder.objects.create(space=space, name=f"bench {n}", created_by=user)
        batch = []
        for i in range(n):
            batch.append(
                File(
                    space=space,
                    folder=folder,
                    name=f"file-{i:06d}.txt",
                    size=i,
                    key=uuid.uuid4().hex,
                    created_by=user,
                )
            )
            if len(batch) == 5000:
                File.objects.bulk_create(batch)
                batch = []
        File.objects.bulk_create(batch)
        connection.cursor().execute("ANALYZE files_file")
        client = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
        client.force_login(user, backend=_session_backend())
        url = f"/files/space/{space.id}/folder/{folder.id}/"
        client.get(url)
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, resp.status_code
        with CaptureQueriesContext(connection) as q:
            client.get(url)
        results[label] = {
            "median_ms": statistics.median(times),
            "p95_ms": sorted(times)[int(len(times) * 0.95)],
            "queries": len(q.captured_queries),
        }
    return results


def time_session_variants(username: str, url: str, rounds: int = 200) -> dict[str, dict[str, Any]]:
    """Return the server time (median and p95, ms) and query count of URL for USERNAME, rendered in the
    site by Django's test client, with sessions and the user (a) in the database, read on every request,
    (b) in signed cookies, the user read on every request, (c) behind the live cache (the site's
    setting: database sessions, each process's memory in front, dropped on a NOTIFY)."""
    import statistics
    import time

    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from strata.site.live import CACHE

    user = User.objects.get(username=username)
    variants = {
        "database sessions, no cache": {
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            "STRATA_LIVE_CACHE": False,
        },
        "signed-cookie sessions, no cache": {
            "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
            "STRATA_LIVE_CACHE": False,
        },
        "live cache (the site's setting)": {},
        "/livez (no session, no query)": {},
    }
    results = {}
    for label, overrides in variants.items():
        with override_settings(**overrides):
            if label.startswith("live"):
                assert CACHE.wait_live(), "the live cache's listener did not connect"
            client = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
            client.force_login(user, backend=_session_backend())
            path = "/livez" if label.startswith("/livez") else url
            for _ in range(20):
                assert client.get(path).status_code == 200
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
            with CaptureQueriesContext(connection) as q:
                client.get(path)
        results[label] = {
            "median_ms": statistics.median(times),
            "p95_ms": sorted(times)[int(len(times) * 0.95)],
            "queries": len(q.captured_queries),
        }
    CACHE.stop()
    return results


def app_connections() -> dict[str, int]:
    """Return the app's open PostgreSQL connections: those of the pools, and the live caches' listeners."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE query NOT LIKE 'LISTEN%%'),"
            " count(*) FILTER (WHERE query LIKE 'LISTEN%%') FROM pg_stat_activity"
            " WHERE usename = current_user AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        pooled, listeners = cursor.fetchone()
    return {"pooled": pooled, "listeners": listeners}


def signed_in_group(prefix: str, count: int, group: str) -> list[str]:
    """Create COUNT people PREFIX0000... (no password: they never log in through a form), all in GROUP with
    the sender PREFIX-sender, and a signed-in session for each; return the session keys."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore

    team, _ = Group.objects.get_or_create(name=group)
    from django.contrib.auth.hashers import make_password

    unusable = make_password(None)  # no password: nobody logs in with a form here
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{i:04}", password=unusable) for i in range(count)]
    )
    sender, _ = User.objects.get_or_create(username=f"{prefix}-sender", defaults={"password": unusable})
    team.user_set.add(sender, *users)
    keys = []
    backend = settings.AUTHENTICATION_BACKENDS[0]
    for user in users:
        store = SessionStore()
        store.update(
            {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
        )
        store.create()
        keys.append(store.session_key)
    return keys


def timed_group_messages(prefix: str, group: str, messages: int) -> list[float]:
    """Post MESSAGES messages from PREFIX-sender to GROUP (one conversation) through the messaging action;
    return the wall-clock time (time.time()) each one's transaction committed."""
    import time

    from django.contrib.auth.models import User

    from strata.messaging.actions import post_message, start_conversation

    sender = User.objects.get(username=f"{prefix}-sender")
    first = start_conversation(sender, f"group:{group}", "bench", "warm-up")
    out = []
    for i in range(messages):
        time.sleep(1)  # let every stream read the previous one before the next goes out
        post_message(first.conversation, sender, f"bench message {i}")
        out.append(time.time())
    return out


def time_save_stream(path: str, rounds: int) -> dict[str, list[float]]:
    """Time the app's own S3 path with no HTTP request in front: the storage backend's save_stream of the
    file at PATH (read in blocks, hashed, PUT as parts to the file server), ROUNDS times; and the SHA-256
    of the same bytes alone (the hashing every upload does). Return seconds of each; the objects stored
    are deleted."""
    import hashlib
    import os
    import time
    import uuid

    from strata.files.limits import part_bytes
    from strata.files.storage import BLOCK, backend

    size = os.path.getsize(path)
    saves, hashes = [], []
    for _ in range(rounds):
        key = uuid.uuid4().hex
        with open(path, "rb") as fh:
            t0 = time.perf_counter()
            backend().save_stream(key, fh, size, "application/octet-stream", part_bytes())
            saves.append(time.perf_counter() - t0)
        backend().delete(key)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            t0 = time.perf_counter()
            while block := fh.read(BLOCK):
                digest.update(block)
            hashes.append(time.perf_counter() - t0)
    return {"save_stream": saves, "sha256": hashes}


def profile_page(username: str, url: str, rounds: int = 200, top: int = 70) -> dict[str, Any]:
    """Return URL's server time for USERNAME (median, ms, Django's test client with the live cache on) and
    cProfile's top functions over ROUNDS requests, by own time and by cumulative time, and the callers of
    the costliest ones (pstats text)."""
    import cProfile
    import io
    import pstats
    import statistics
    import time

    from django.contrib.auth.models import User
    from django.test import Client

    from strata.site.live import CACHE

    user = User.objects.get(username=username)
    assert CACHE.wait_live(), "the live cache's listener did not connect"
    client = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(user, backend=_session_backend())
    for _ in range(20):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    profile = cProfile.Profile()
    for _ in range(rounds):
        profile.runcall(client.get, url)
    out = {"median_ms": statistics.median(times)}
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(top)
        out[order] = text.getvalue()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_callers(8)
    out["callers"] = text.getvalue()
    CACHE.stop()
    return out
