"""Backups on the file server: a PostgreSQL dump, the file objects, and a manifest tying them together.

Layout in the backup bucket (roles.files.backup_bucket):
  backups/<id>/db.dump        pg_dump custom format of the site's database
  backups/<id>/manifest.json  Strata and PostgreSQL versions, row counts, every object with size and sha256,
                              and the file rows whose object was missing on the file server
  objects/<key>               a copy of each file object (shared by all backups: keys never change content)

The manifest is written last: a backup is a backup only once it has one. `list_backups` lists only
those, and a backup that fails on the way removes what it had written (one killed outright leaves a
prefix without a manifest, which is never listed nor restorable, and the next backup removes it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from django.apps import apps
from django.conf import settings
from django.db import connection

from strata import __version__
from strata.deploy.roles.files import client as s3

from .errors import FilesError
from .models import File

FORMAT = 1


class BackupError(FilesError):
    """A backup or restore that cannot go on; nothing has been changed when this is raised."""


@dataclass
class Result:
    backup_id: str
    objects: int
    copied: int
    rows: dict
    # File rows whose object was not on the file server: {"id", "name", "owner", "key", "size"} each.
    missing: list = field(default_factory=list)


def _client():
    """The backup identity: it reads the files bucket and writes only the backups bucket."""
    return s3.backup_client(settings.CONFIG, settings.SECRETS)


# An app host holds no S3 admin key (each host gets only its roles' secrets): the admin hands it to one
# restore through the environment, from the control machine's secrets file.
ADMIN_KEY_ENV = ("STRATA_S3_ADMIN_ACCESS_KEY", "STRATA_S3_ADMIN_SECRET_KEY")


def _admin_client():
    """The admin identity, for restores only: they write (and may overwrite) the files bucket."""
    secrets = dict(settings.SECRETS)
    for key, env in zip(("s3_admin_access_key", "s3_admin_secret_key"), ADMIN_KEY_ENV, strict=True):
        if not secrets.get(key) and os.environ.get(env):
            secrets[key] = os.environ[env]
        if not secrets.get(key):
            raise BackupError(
                "A restore writes the files bucket as the S3 admin identity, which this host does not hold: "
                f"set {ADMIN_KEY_ENV[0]} and {ADMIN_KEY_ENV[1]} to s3_admin_access_key and "
                "s3_admin_secret_key of the control machine's secrets file for this one command."
            )
    return s3.admin_client(settings.CONFIG, secrets)


def _buckets() -> tuple[str, str]:
    files = settings.CONFIG.roles["files"]
    return files["bucket"], files["backup_bucket"]


def _pg_env() -> dict:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "PGHOST": db["HOST"],
        "PGPORT": str(db["PORT"]),
        "PGUSER": db["USER"],
        "PGPASSWORD": db["PASSWORD"],
        "PGDATABASE": db["NAME"],
        # The same TLS as the site's own connections (verify-full against the site CA across hosts).
        **{
            f"PG{k.upper()}": v
            for k, v in db["OPTIONS"].items()
            if k in ("sslmode", "sslrootcert", "sslcertmode")
        },
    }


def _pg_bin(name: str) -> str:
    path = f"/usr/lib/postgresql/15/bin/{name}"
    return path if os.path.exists(path) else name


def server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def row_counts() -> dict[str, int]:
    """Rows per model of the site's own apps (what a restore must bring back)."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in ("files", "people", "auth", "messaging", "accounts"):
            out[model._meta.label] = model._default_manager.count()
    return out


def _exists(client, bucket: str, key: str) -> int | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except client.exceptions.ClientError:
        return None


def _owner(f: File) -> str:
    space = f.space
    if space.kind == space.PERSONAL and space.owner is not None:
        return space.owner.get_username()
    if space.group is not None:
        return f"group {space.group.name}"
    return f.created_by.get_username() if f.created_by is not None else "unknown"


def _delete_prefix(client, bucket: str, prefix: str) -> None:
    resp = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    for o in resp.get("Contents", []):
        client.delete_object(Bucket=bucket, Key=o["Key"])


def _s3_message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip(": ")
    return str(exc)


def create() -> Result:
    """Dump the database, copy the objects that exist into the backup bucket, then write the manifest last."""
    if not settings.CONFIG.enabled("files"):
        raise BackupError("Backups are stored on the file server, and the files role is not enabled.")
    data_bucket, backup_bucket = _buckets()
    client = _client()
    backup_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"backups/{backup_id}/"
    try:
        _remove_unfinished(client, backup_bucket, keep=backup_id)
        return _create(client, data_bucket, backup_bucket, backup_id, prefix)
    except BaseException as exc:
        # Never leave a half-made backup behind: remove what this one wrote (best effort).
        with contextlib.suppress(BotoCoreError, ClientError):
            _delete_prefix(client, backup_bucket, prefix)
        if isinstance(exc, (BotoCoreError, ClientError)):
            raise BackupError(f"Backup stopped, the file server answered: {_s3_message(exc)}") from None
        raise


def _create(client, data_bucket: str, backup_bucket: str, backup_id: str, prefix: str) -> Result:
    with tempfile.TemporaryDirectory(prefix="strata-backup-") as tmp:
        dump = os.path.join(tmp, "db.dump")
        proc = subprocess.run(
            [_pg_bin("pg_dump"), "-Fc", "--no-owner", "-f", dump],
            env=_pg_env(),
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed: {proc.stderr.strip().splitlines()[-1:]}")
        digest = hashlib.sha256()
        with open(dump, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        client.upload_file(dump, backup_bucket, prefix + "db.dump")
        dump_info = {"size": os.path.getsize(dump), "sha256": digest.hexdigest()}
    objects, missing, copied = [], [], 0
    files = File.objects.order_by("id").select_related("space__owner", "space__group", "created_by")
    for f in files.iterator():
        if _exists(client, backup_bucket, f"objects/{f.key}") != f.size:
            if _exists(client, data_bucket, f.key) is None:
                missing.append({"id": f.id, "name": f.name, "owner": _owner(f), "key": f.key, "size": f.size})
                continue
            client.copy_object(
                Bucket=backup_bucket, Key=f"objects/{f.key}", CopySource={"Bucket": data_bucket, "Key": f.key}
            )
            copied += 1
        objects.append({"key": f.key, "size": f.size, "sha256": f.sha256})
    rows = row_counts()
    manifest = {
        "format": FORMAT,
        "id": backup_id,
        "strata_version": __version__,
        "postgresql_version": server_major(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": dump_info,
        "rows": rows,
        "objects": objects,
        "missing": missing,
    }
    client.put_object(
        Bucket=backup_bucket,
        Key=prefix + "manifest.json",
        Body=json.dumps(manifest, indent=1).encode(),
        ContentType="application/json",
    )
    return Result(backup_id, len(objects), copied, rows, missing)


def _prefixes(client, backup_bucket: str) -> list[str]:
    ids: list[str] = []
    kwargs = {"Bucket": backup_bucket, "Prefix": "backups/", "Delimiter": "/"}
    while True:
        resp = client.list_objects_v2(**kwargs)
        ids += [p["Prefix"].split("/")[1] for p in resp.get("CommonPrefixes", [])]
        if not resp.get("IsTruncated"):
            return sorted(ids)
        kwargs["ContinuationToken"] = resp["NextContinuationToken"]


def _finished(client, backup_bucket: str, backup_id: str) -> bool:
    return _exists(client, backup_bucket, f"backups/{backup_id}/manifest.json") is not None


def _remove_unfinished(client, backup_bucket: str, keep: str) -> None:
    """Remove what a killed backup left (a prefix without a manifest) older than an hour."""
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    for backup_id in _prefixes(client, backup_bucket):
        if backup_id != keep and backup_id < cutoff and not _finished(client, backup_bucket, backup_id):
            _delete_prefix(client, backup_bucket, f"backups/{backup_id}/")


def list_backups() -> list[str]:
    """The finished backups (those with a manifest), oldest first."""
    _data, backup_bucket = _buckets()
    client = _client()
    try:
        return [b for b in _prefixes(client, backup_bucket) if _finished(client, backup_bucket, b)]
    except (BotoCoreError, ClientError) as exc:
        raise BackupError(f"Cannot list the backups, the file server answered: {_s3_message(exc)}") from None


def manifest(backup_id: str) -> dict:
    _data, backup_bucket = _buckets()
    client = _client()
    if not backup_id.replace("T", "").replace("Z", "").isdigit():
        raise BackupError(f"{backup_id!r} is not a backup id (see `strata backup --list`).")
    try:
        body = client.get_object(Bucket=backup_bucket, Key=f"backups/{backup_id}/manifest.json")[
            "Body"
        ].read()
    except client.exceptions.NoSuchKey:
        raise BackupError(f"No backup {backup_id} (see `strata backup --list`).") from None
    return json.loads(body)


def check_compatible(m: dict) -> None:
    ours = __version__.split(".")[:2]
    theirs = str(m.get("strata_version", "")).split(".")[:2]
    if theirs != ours:
        raise BackupError(
            f"Backup {m['id']} was made by Strata {m.get('strata_version')}; this is Strata "
            f"{__version__}. Restore it with the same Strata version."
        )
    if m.get("postgresql_version") != server_major():
        raise BackupError(
            f"Backup {m['id']} holds a PostgreSQL {m.get('postgresql_version')} dump; this "
            f"server runs PostgreSQL {server_major()}."
        )


def _stack_is_empty() -> bool:
    from django.contrib.auth import get_user_model

    return not File.objects.exists() and get_user_model().objects.count() <= 1


def restore(backup_id: str, force: bool = False) -> Result:
    """Restore BACKUP_ID into this (empty) stack: objects first, then the database, then verify."""
    m = manifest(backup_id)
    check_compatible(m)
    if not force and not _stack_is_empty():
        raise BackupError(
            "This stack already holds people or files; restore only into an empty stack "
            "(or pass --force to replace everything)."
        )
    data_bucket, backup_bucket = _buckets()
    client = _admin_client()
    missing = [
        o["key"] for o in m["objects"] if _exists(client, backup_bucket, f"objects/{o['key']}") != o["size"]
    ]
    if missing:
        raise BackupError(
            f"Backup {backup_id} is incomplete: {len(missing)} object(s) missing, e.g. {missing[0]}."
        )
    copied = 0
    for o in m["objects"]:
        if _exists(client, data_bucket, o["key"]) != o["size"]:
            client.copy_object(
                Bucket=data_bucket,
                Key=o["key"],
                CopySource={"Bucket": backup_bucket, "Key": f"objects/{o['key']}"},
            )
            copied += 1
    with tempfile.TemporaryDirectory(prefix="strata-restore-") as tmp:
        dump = os.path.join(tmp, "db.dump")
        client.download_file(backup_bucket, f"backups/{backup_id}/db.dump", dump)
        digest = hashlib.sha256()
        with open(dump, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != m["database"]["sha256"]:
            raise BackupError(f"Backup {backup_id}: the database dump does not match its checksum.")
        connection.close()
        proc = subprocess.run(
            [
                _pg_bin("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "-d",
                settings.DATABASES["default"]["NAME"],
                dump,
            ],
            env=_pg_env(),
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed: {proc.stderr.strip().splitlines()[-1:]}")
    rows = row_counts()
    wrong = {k: (v, rows.get(k)) for k, v in m["rows"].items() if rows.get(k) != v}
    if wrong:
        raise BackupError(f"Restored row counts differ from the backup: {wrong}")
    return Result(backup_id, len(m["objects"]), copied, rows, m.get("missing", []))
