"""Benchmark set-ups and in-app measurements that run inside a live stack's Django, through Stack.call.

As in tests/support/in_site.py, Django is not set up in the process that names these functions, so the
site's code is imported inside each one.
"""

from __future__ import annotations

from typing import Any


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
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
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
