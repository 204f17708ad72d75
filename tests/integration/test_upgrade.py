"""`strata upgrade` between two releases under load, the expand/contract check, and `strata drill upgrade`.

One stack for the module, its code pinned by site.code_dir to a `current` symlink. Releases A and B come
from tests/support/releases.py (A the checkout's code; B adds a nullable column and a header naming the
release that answered); C is B plus a RemoveField. Steady load through nginx (logged-in GETs and
uploads) while `strata upgrade` moves the site from A to B.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path

import pytest

from strata.deploy import drill as drills
from strata.deploy.roles.app.client import connect
from tests.support import in_site
from tests.support.releases import MARKER, add_migration, copy_checkout, make_b, point
from tests.support.stack import drill, make_root, running_stack

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery upgrade"
REMOVE_FAX = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("people", "{parent}")]
    operations = [migrations.RemoveField("profile", "fax")]
"""


@pytest.fixture(scope="module")
def releases():
    root = make_root("strata-upgrade-")
    a, b, c = root / "releases" / "A", root / "releases" / "B", root / "releases" / "C"
    copy_checkout(a)
    make_b(a, b)
    shutil.copytree(b, c, symlinks=True)
    add_migration(c, "0901_upgrade_drop_fax", REMOVE_FAX)
    # D: B whose app servers cannot start (an error on import of their entry point).
    d = root / "releases" / "D"
    shutil.copytree(b, d, symlinks=True)
    with (d / "strata" / "site" / "wsgi.py").open("a") as fh:
        fh.write('\nraise RuntimeError("a broken release")\n')
    current = root / "current"
    point(current, a)
    try:
        yield root, {"A": a, "B": b, "C": c, "D": d}, current
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(releases):
    root, _rel, _current = releases
    with running_stack("strata-upgrade-", root=root, site='code_dir = "current"') as st:
        st.call(in_site.save_people, [{"username": "ada", "password": PASSWORD, "details": {}}])
        yield st


def strata_cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(stack.config.path), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def release_of_instances(stack) -> dict[str, str]:
    """Return the release each app server that answers at all answers with (its marker header; "A" when
    it sends none)."""
    out = {}
    for inst in stack.config.app_instances():
        try:
            conn = connect(inst.host.address, inst.port, None, 5)
            conn.request("GET", "/healthz", headers={"Host": inst.host.address})
            resp = conn.getresponse()
            resp.read()
            out[inst.name] = resp.getheader(MARKER) or "A"
            conn.close()
        except OSError:
            continue
    return out


class MixedLoad:
    """Logged-in sessions GETting the directory and uploading small files through nginx until stopped;
    every answer is kept: (time, kind, status, release that answered, upload name, its SHA-256)."""

    def __init__(self, stack, getters: int = 3, uploaders: int = 2):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.seen: list[tuple[float, str, int, str, str, str]] = []
        self.sessions = [drills.Session(stack.config) for _ in range(getters + uploaders)]
        for s in self.sessions:
            assert s.login("ada", PASSWORD) == 200
        self.threads = [
            threading.Thread(target=self._get if i < getters else self._upload, args=(s, i), daemon=True)
            for i, s in enumerate(self.sessions)
        ]

    def _record(self, kind, status, headers, name="", digest="") -> None:
        with self.lock:
            self.seen.append((time.monotonic(), kind, status, headers.get(MARKER) or "A", name, digest))

    def _get(self, s: drills.Session, _i: int) -> None:
        while not self.stop.is_set():
            try:
                status, headers, _b = s.request("/people/")
            except (OSError, urllib.error.URLError):
                status, headers = 0, {}
            self._record("get", status, headers)
            time.sleep(0.01)

    def _upload(self, s: drills.Session, i: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"upgrade-{i}-{n}.txt"
            data = f"upload {i} {n} ".encode() * (1 + n % 50)
            headers = {"Referer": s.base + "/", "X-CSRFToken": s.csrf(), "Content-Type": "text/plain"}
            try:
                status, got, _b = s._open(f"/api/files/uploads/put?name={name}", data, headers, "PUT")
            except (OSError, urllib.error.URLError):
                status, got = 0, {}
            self._record("upload", status, got, name, hashlib.sha256(data).hexdigest())
            time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def run_timed(stack, *args: str) -> tuple[int, list[tuple[float, str]], str]:
    """Run the strata CLI with ARGS; return its exit code, each output line with when it came, stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(stack.config.path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    lines = [(time.monotonic(), line.rstrip("\n")) for line in proc.stdout]
    stderr = proc.stderr.read()
    return proc.wait(timeout=600), lines, stderr


def test_upgrade_between_two_releases_under_load(stack, releases):
    _root, rel, current = releases
    assert set(release_of_instances(stack).values()) == {"A"}
    assert "nickname" not in stack.call(in_site.table_columns, "people_profile")

    with MixedLoad(stack) as load:
        time.sleep(2)
        point(current, rel["B"])
        code, lines, stderr = run_timed(stack, "upgrade")
        time.sleep(2)
    output = "\n".join(text for _t, text in lines)
    print(output)  # the steps (pytest -rP shows them)
    assert code == 0, output + stderr
    assert "people.0900_upgrade_nickname" in output
    for name in ("app-1", "app-2"):
        assert f"{name}: out of nginx's pool" in output
        assert f"{name}: back in the pool" in output
    assert output.index("app-2: back in the pool") < output.index("worker: restarted")

    seen = list(load.seen)
    failed = [
        (kind, status, release) for _t, kind, status, release, _n, _d in seen if status not in (200, 201)
    ]
    assert failed == [], failed
    gets = [s for s in seen if s[1] == "get"]
    uploads = [s for s in seen if s[1] == "upload"]
    assert len(gets) > 50, len(gets)
    assert len(uploads) > 20, len(uploads)
    # Both releases answered during the run: the old one before its servers were restarted.
    assert {s[3] for s in seen} == {"A", "B"}

    # Old code against the migrated schema: A's servers went on serving pages and uploads after the
    # migration (its answers after the "static files collected" step, which follows `migrate`).
    (migrated_at,) = [t for t, text in lines if "static files collected" in text]
    old_after = [s for s in seen if s[0] > migrated_at and s[3] == "A"]
    assert {s[1] for s in old_after} == {"get", "upload"}, len(old_after)

    print(f"{len(gets)} GETs, {len(uploads)} uploads, 0 failed; {len(old_after)} answered by A after migrate")
    # No lost upload: every one answered 201 has its row and exactly its bytes.
    wanted = {name: digest for _t, _k, _s, _r, name, digest in uploads}
    assert stack.call(in_site.stored_digests, sorted(wanted)) == wanted

    assert release_of_instances(stack) == {"app-1": "B", "app-2": "B"}
    assert stack.call(in_site.applied_migrations, "people").count("0900_upgrade_nickname") == 1
    assert "nickname" in stack.call(in_site.table_columns, "people_profile")
    # Running again: nothing pending, the servers restarted in turn all the same.
    again = strata_cli(stack, "upgrade")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "migrate: nothing pending" in again.stdout


def try_upgrade(stack, current: Path, release: Path, back_to: Path) -> subprocess.CompletedProcess:
    """Run `strata upgrade` with CURRENT pointing at RELEASE, then point it BACK_TO the release running."""
    point(current, release)
    try:
        return strata_cli(stack, "upgrade")
    finally:
        point(current, back_to)


def test_a_contract_migration_is_refused_and_nothing_changes(stack, releases):
    _root, rel, current = releases
    proc = try_upgrade(stack, current, rel["C"], back_to=rel["B"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "people.0901_upgrade_drop_fax: RemoveField" in line, line
    assert "--contract" in line
    assert "fax" in stack.call(in_site.table_columns, "people_profile")
    assert "0901_upgrade_drop_fax" not in stack.call(in_site.applied_migrations, "people")
    assert release_of_instances(stack) == {"app-1": "B", "app-2": "B"}  # nothing was restarted onto C
    s = drills.Session(stack.config)
    assert s.login("ada", PASSWORD) == 200
    assert s.request("/people/")[0] == 200


def test_a_release_whose_server_does_not_start_stops_the_upgrade_with_the_site_serving(stack, releases):
    _root, rel, current = releases
    proc = try_upgrade(stack, current, rel["D"], back_to=rel["B"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "app-1 is left out of nginx's pool" in proc.stderr, proc.stderr
    assert "app-2" not in proc.stdout  # the next server was not touched
    s = drills.Session(stack.config)
    assert s.login("ada", PASSWORD) == 200
    statuses = [s.request("/people/")[0] for _ in range(10)]
    assert statuses == [200] * 10  # app-2, still on B, serves everything
    assert release_of_instances(stack) == {"app-2": "B"}

    again = strata_cli(stack, "upgrade")  # back on B: app-1 starts and returns to the pool
    assert again.returncode == 0, again.stdout + again.stderr
    assert release_of_instances(stack) == {"app-1": "B", "app-2": "B"}


def test_strata_drill_upgrade(stack, tmp_path):
    by = drill(stack, tmp_path, "upgrade", seconds=4)
    measured = by["upgrade"]["measured"]
    assert measured["failed"] == 0
    assert by["upgrade"]["requests"] > 20
    assert 0 < measured["duration_s"] < 120
