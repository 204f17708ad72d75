"""What the backup-restore drill asks the file server (no Django): a backup's manifest, the sha256 of file
objects as stored, and the deletion of the drill's own objects (the wipe).

The control machine answers in-process; a lab's control cannot reach the file server (the firewall lets
only app and db hosts in), so there it runs `python -m strata.deploy.drill_objects` inside an app host's
namespace, the request and the S3 keys it needs on stdin as JSON (never on the command line).
"""

from __future__ import annotations

import hashlib
import json
import sys

from botocore.exceptions import BotoCoreError, ClientError

from strata.deploy import config as cfgmod
from strata.deploy.roles.files import client as s3

OPS = ("manifest", "sha256", "delete")
# The identities the requests use: backup reads both buckets, admin deletes from the files bucket.
SECRET_KEYS = ("s3_backup_access_key", "s3_backup_secret_key", "s3_admin_access_key", "s3_admin_secret_key")


def answer(config: cfgmod.Config, secrets: dict, op: str, args: list[str]) -> dict:
    """Return the answer to OP on ARGS: manifest (ARGS: the backup id) -> the manifest; sha256 (ARGS: object
    keys) -> {key: sha256 of its bytes, or None when absent}; delete (ARGS: keys) -> {key: None}."""
    files = config.roles["files"]
    if op == "manifest":
        body = s3.backup_client(config, secrets, timeout=30).get_object(
            Bucket=files["backup_bucket"], Key=f"backups/{args[0]}/manifest.json"
        )["Body"]
        return json.loads(body.read())
    if op == "sha256":
        client = s3.backup_client(config, secrets, timeout=30)
        return {key: _sha256(client, files["bucket"], key) for key in args}
    if op == "delete":
        admin = s3.admin_client(config, secrets, timeout=30)
        for key in args:
            admin.delete_object(Bucket=files["bucket"], Key=key)
        return dict.fromkeys(args)
    raise ValueError(f"unknown operation {op!r}: choose from {', '.join(OPS)}")


def _sha256(client, bucket: str, key: str) -> str | None:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    digest = hashlib.sha256()
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def main() -> int:
    request = json.load(sys.stdin)
    config = cfgmod.load()  # $STRATA_CONFIG, with the host's $STRATA_VAR_DIR (its CA certificate)
    try:
        result = answer(config, request["secrets"], request["op"], request["args"])
    except (BotoCoreError, ClientError) as exc:
        sys.stderr.write(f"strata: the file server answered: {exc}\n")
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
