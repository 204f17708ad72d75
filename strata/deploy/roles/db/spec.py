"""The db role's facts: PostgreSQL 15 (see role.py for how it runs)."""

from __future__ import annotations

from strata.deploy.roles.spec import Link, Port, RoleSpec


def validate(config) -> None:
    SPEC.check_range(config.roles["db"].options, "pool_size", 1, 100)


SPEC = RoleSpec(
    name="db",
    required=True,
    options={
        "port": (int, 15432),
        "name": (str, "strata"),
        "user": (str, "strata"),
        "pool_size": (int, 4),
        # With the monitor role: prometheus-postgres-exporter's port (the monitor host only).
        "metrics_port": (int, 18161),
    },
    kinds={"name": "identifier", "user": "identifier"},
    ports=(Port("port"), Port("metrics_port", with_role="monitor")),
    validate=validate,
    links=(Link("db", "files", "database backups"),),
    # pgbackrest: point-in-time recovery (the files role's `pitr`): WAL archiving and full backups.
    # prometheus-postgres-exporter: its metrics, with the monitor role.
    packages=("postgresql-15", "pgbackrest", "prometheus-postgres-exporter"),
    # With the files role's `pitr`, pgBackRest's S3 identity and the repository's cipher passphrase too.
    secrets=(
        "db_superuser_password",
        "db_monitor_password",
        "s3_pitr_access_key",
        "s3_pitr_secret_key",
        "pgbackrest_cipher_pass",
    ),
    # after_start creates (or updates) the app's login role with its password.
    deploy_secrets=("db_app_password",),
)
