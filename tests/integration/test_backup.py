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
from tests.support.stack import add_people, drill, files_role_toml, running_stack, strata

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


def test_backup_with_a_missing_object_reports_it_and_restores_the_rest(bstack):
    """One file row whose object is gone: the backup copies everything else, names the missing file and
    its owner, exits 1 with a finished (listed, restorable) backup; a killed backup is never listed."""
    add_people(bstack, [{"username": "fred", "password": "pw-fred-backup-2026"}])
    fred = Api(bstack, "fred", "pw-fred-backup-2026")
    kept = {}
    for i, size in enumerate((5, 80_000)):
        data = os.urandom(size)
        status, f = fred.put(f"kept-{i}.bin", data)
        assert status == 201
        kept[f["id"]] = data
    status, lost = fred.put("lost.bin", os.urandom(1234))
    assert status == 201
    admin = s3.admin_client(bstack.config, bstack.secrets)
    data_bucket = bstack.config.roles["files"]["bucket"]
    admin.delete_object(Bucket=data_bucket, Key=bstack.call(in_site.file_key, lost["id"]))

    # What a backup killed before its manifest leaves: a dump and no manifest (old enough to clean up).
    client = s3.backup_client(bstack.config, bstack.secrets)
    bucket = bstack.config.roles["files"]["backup_bucket"]
    client.put_object(Bucket=bucket, Key="backups/20260101T000000Z/db.dump", Body=b"half")
    listed = strata(bstack, "backup", "--list")
    assert listed.returncode == 0, listed.stderr
    assert "20260101T000000Z" not in listed.stdout.split()
    before = listed.stdout.split()
    unfinished = strata(bstack, "restore", "20260101T000000Z")
    assert unfinished.returncode == 2
    assert "No backup 20260101T000000Z" in unfinished.stderr

    made = strata(bstack, "backup")
    assert made.returncode == 1, made.stderr
    assert "botocore" not in made.stderr
    assert "Traceback" not in made.stderr
    assert made.stderr.strip().splitlines() == [made.stderr.strip()]
    assert "incomplete: 1 file object(s) missing" in made.stderr
    missing_lines = [ln for ln in made.stdout.splitlines() if ln.startswith("missing:")]
    assert missing_lines == [
        f"missing: file {lost['id']} 'lost.bin' of fred (1234 bytes, object "
        f"{bstack.call(in_site.file_key, lost['id'])}) is not on the file server"
    ]
    backup_id = made.stdout.split()[1].rstrip(":")
    assert strata(bstack, "backup", "--list").stdout.split() == [*before, backup_id]
    # The next backup removed what the killed one left.
    assert client.list_objects_v2(Bucket=bucket, Prefix="backups/20260101T000000Z/").get("KeyCount") == 0
    m = json.loads(client.get_object(Bucket=bucket, Key=f"backups/{backup_id}/manifest.json")["Body"].read())
    assert [(x["id"], x["name"], x["owner"]) for x in m["missing"]] == [(lost["id"], "lost.bin", "fred")]
    assert lost["id"] not in {x["key"] for x in m["objects"]}

    # Restore over this stack: everything that existed comes back byte for byte.
    for key in [o["Key"] for o in admin.list_objects_v2(Bucket=data_bucket).get("Contents", [])]:
        admin.delete_object(Bucket=data_bucket, Key=key)
    restored = strata(bstack, "restore", backup_id, "--force")
    assert restored.returncode == 0, restored.stderr
    assert f"not in the backup: file {lost['id']} 'lost.bin' of fred" in restored.stdout
    fred = Api(bstack, "fred", "pw-fred-backup-2026")
    for file_id, data in kept.items():
        status, _h, body = fred.get(f"/files/file/{file_id}/download")
        assert status == 200, file_id
        assert body == data, file_id
    status, _h, _body = fred.get(f"/files/file/{lost['id']}/download")
    assert status == 410


def test_strata_drill_backup_restore(bstack, tmp_path):
    """`strata drill backup-restore`: rows and files written, backed up, wiped, restored, all identical."""
    before = bstack.call(in_site.backup_row_counts)
    result = drill(bstack, tmp_path, "backup-restore")["backup-restore"]
    m = result["measured"]
    assert (m["lost"], m["mismatches"], m["survived_wipe"]) == (0, 0, 0), m
    assert m["objects"] >= 3
    assert m["objects_bytes"] >= 3 * 256 * 1024  # the drill's files were in the backup
    assert m["dump_bytes"] > 0
    assert 0 < m["backup_s"] < 120
    assert 0 < m["restore_s"] < 120
    after = bstack.call(in_site.backup_row_counts)
    # Nothing was lost beyond the drill's own rows: every table holds at least what it held before.
    assert {k: v for k, v in before.items() if after.get(k, 0) < v} == {}
    assert after["files.File"] == before["files.File"] + 3
    # The drill's people were restored with the rest, then disabled at the end.
    assert bstack.call(in_site.people_named, "drill-", True) == []
    assert len(bstack.call(in_site.people_named, "drill-", False)) == 2
    (report,) = tmp_path.glob("drill-*.md")
    assert "| backup-restore |" in report.read_text()
