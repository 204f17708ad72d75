"""Backup -> wipe -> restore round trip on a stack of its own (PostgreSQL + SeaweedFS + app + nginx)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from strata.deploy import local as deploy
from strata.deploy.roles.files import client as s3
from tests.integration.test_files import Api
from tests.support import in_site
from tests.support.stack import add_people, files_role_toml, running_stack, strata

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bstack():
    with running_stack("strata-backup-", extra=files_role_toml()) as s:
        yield s


def test_backup_wipe_restore_gives_identical_files_and_rows(bstack):
    add_people(bstack, [{"username": n, "password": f"pw-{n}-backup-2026"} for n in ("dora", "eve")])
    dora = Api(bstack, "dora", "pw-dora-backup-2026")
    originals = {}
    for i, size in enumerate((0, 1, 6 * 1024 * 1024 + 3, 70_000)):
        data = os.urandom(size)
        status, f = dora.put(f"file-{i}.bin", data)
        assert status == 201
        originals[f["id"]] = data
    status, f = dora.json("POST", f"/api/files/files/{next(iter(originals))}/shares", {"username": "eve"})
    assert status == 201
    counts_before = bstack.call(in_site.backup_row_counts)

    made = strata(bstack, "backup")
    assert made.returncode == 0, made.stderr
    backup_id = made.stdout.split()[1].rstrip(":")
    assert strata(bstack, "backup", "--list").stdout.split() == [backup_id]

    # Restoring over a stack that holds data is refused and changes nothing.
    refused = strata(bstack, "restore", backup_id)
    assert refused.returncode == 2
    assert "empty stack" in refused.stderr
    # A backup of another Strata version is refused with a clear message.
    client = s3.backup_client(bstack.config, bstack.secrets)
    bucket = bstack.config.roles["files"]["backup_bucket"]
    m = json.loads(client.get_object(Bucket=bucket, Key=f"backups/{backup_id}/manifest.json")["Body"].read())
    odd = dict(m, id="20000101T000000Z", strata_version="9.9.0")
    client.put_object(
        Bucket=bucket, Key="backups/20000101T000000Z/manifest.json", Body=json.dumps(odd).encode()
    )
    wrong = strata(bstack, "restore", "20000101T000000Z")
    assert wrong.returncode == 2
    assert "Strata 9.9.0" in wrong.stderr

    # Wipe: every object of the files bucket, and the whole database cluster.
    admin = s3.admin_client(bstack.config, bstack.secrets)
    data_bucket = bstack.config.roles["files"]["bucket"]
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket=data_bucket).get("Contents", [])]
    for key in keys:
        admin.delete_object(Bucket=data_bucket, Key=key)
    deploy.down(bstack.config.path)
    shutil.rmtree(bstack.config.var_dir / "data" / "db")
    deploy.up(bstack.config.path)
    assert bstack.call(in_site.backup_row_counts)["files.File"] == 0

    restored = strata(bstack, "restore", backup_id)
    assert restored.returncode == 0, restored.stderr
    assert bstack.call(in_site.backup_row_counts) == counts_before
    dora = Api(bstack, "dora", "pw-dora-backup-2026")
    for file_id, data in originals.items():
        status, _h, body = dora.get(f"/files/file/{file_id}/download")
        assert status == 200, file_id
        assert body == data, file_id
