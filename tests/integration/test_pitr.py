"""Point-in-time recovery on a stack of its own with the files role's `pitr` on: pgBackRest archives the
WAL into the file server, `strata restore --to TIME` brings back exactly the rows and the files of TIME."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from strata.deploy import local as deploy
from tests.integration.test_files import Api
from tests.support import in_site
from tests.support.stack import add_people, files_role_toml, running_stack, strata

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pstack():
    with running_stack("strata-pitr-", extra=files_role_toml() + "pitr = true\n") as s:
        yield s


def first_full_backup(stack) -> dict:
    """Wait for the db-pitr program's first full backup (it makes one as soon as the stanza exists)."""
    repo = deploy.pitr_repo(stack.config.path)
    deadline = time.monotonic() + 300
    while True:
        backups = repo.backups() if repo.info() else []
        if backups:
            return backups[-1]
        assert time.monotonic() < deadline, "no full backup 300 s after the stack started"
        time.sleep(1)


def moment() -> str:
    """A moment strictly between what was written before and what is written after this call."""
    time.sleep(1.1)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1.1)
    return now


def live(api: Api) -> dict[str, int]:
    status, spaces = api.json("GET", "/api/files/")
    assert status == 200
    mine = next(s for s in spaces["spaces"] if s["kind"] == "personal")
    status, listing = api.json("GET", f"/api/files/spaces/{mine['id']}/")
    assert status == 200, listing
    return {f["name"]: f["id"] for f in listing["files"]}


def test_restore_to_a_moment_gives_its_rows_and_files(pstack):
    first_full_backup(pstack)
    add_people(pstack, [{"username": "gus", "password": "pw-gus-pitr-2026"}])
    gus = Api(pstack, "gus", "pw-gus-pitr-2026")
    then = {}
    for name, size in (("kept.bin", 70_000), ("deleted-later.bin", 6 * 1024 * 1024 + 5), ("empty.bin", 0)):
        then[name] = os.urandom(size)
        status, _f = gus.put(name, then[name])
        assert status == 201
    ids_then = live(gus)
    counts_then = pstack.call(in_site.backup_row_counts)
    target = moment()

    # After the moment: a new file, another person, and a file deleted for good (trash emptied).
    assert gus.put("after.bin", os.urandom(1000))[0] == 201
    add_people(pstack, [{"username": "hal", "password": "pw-hal-pitr-2026"}])
    assert gus.json("DELETE", f"/api/files/files/{ids_then['deleted-later.bin']}")[0] == 204
    status, spaces = gus.json("GET", "/api/files/")
    mine = next(s for s in spaces["spaces"] if s["kind"] == "personal")
    assert gus.json("POST", f"/api/files/spaces/{mine['id']}/trash/empty")[1]["purged"] == 1
    assert pstack.call(in_site.backup_row_counts) != counts_then

    # `strata backup` also checks the archive (pgbackrest check: the WAL up to now is in the repository).
    made = strata(pstack, "backup")
    assert made.returncode == 0, made.stderr
    assert "archive: ok, " in made.stdout

    too_early = strata(pstack, "restore", "--to", "2000-01-01 00:00:00")
    assert too_early.returncode == 2
    assert "no full backup finished before 2000-01-01 00:00:00" in too_early.stderr
    assert strata(pstack, "restore", "--to", "yesterday").returncode == 2

    restored = strata(pstack, "restore", "--to", target)
    assert restored.returncode == 0, restored.stderr
    assert f"restored the database to {target} UTC" in restored.stdout

    assert pstack.call(in_site.backup_row_counts) == counts_then
    gus = Api(pstack, "gus", "pw-gus-pitr-2026")
    assert live(gus) == ids_then
    for name, data in then.items():
        status, _h, body = gus.get(f"/files/file/{ids_then[name]}/download")
        assert status == 200, name
        assert body == data, name
