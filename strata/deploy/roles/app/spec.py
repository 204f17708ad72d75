"""The app role's facts: gunicorn running Django, and the task worker (see role.py for how they run)."""

from __future__ import annotations

import os

from strata.deploy.roles.db.spec import SPEC as DB_SPEC
from strata.deploy.roles.spec import Link, OptionError, Port, RoleSpec

# Threads per gunicorn worker (gthread). Each holds one database connection while it serves a request, so
# the worker's pool (roles.db.pool_size) must hold at least as many: then no thread ever waits for one.
THREADS = 4


def workers(config, host: str, cores: int | None = None) -> int:
    """Return the worker processes of each app instance on HOST: roles.app.workers, or when it is 0 (the
    default) the host's CORES (this machine's) shared among its instances, one each at least. More
    processes than cores only add memory: a page's work holds the interpreter, so a worker's threads
    mostly overlap waits (the database, the network), and those threads are what serve more requests."""
    n = config.roles["app"]["workers"]
    if n:
        return n
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, len(config.app_instances(host))))


def validate(config) -> None:
    app = config.roles["app"].options
    SPEC.check_range(app, "instances", 1, 16)
    SPEC.check_range(app, "workers", 0, 64)
    SPEC.check_range(app, "timeout", 1, 3600)
    pool = config.roles["db"]["pool_size"]
    if pool < THREADS:
        raise OptionError(
            DB_SPEC.key("pool_size"),
            f"{pool} is fewer than the {THREADS} threads of each app worker (each needs a connection)",
        )


SPEC = RoleSpec(
    name="app",
    required=True,
    multi_host=True,
    options={
        "port": (int, 18101),
        "instances": (int, 2),
        "workers": (int, 0),  # 0: by cores (workers())
        "timeout": (int, 30),
        # The event server (live updates, Server-Sent Events): one uvicorn process per app host.
        "events_port": (int, 18150),
        # The app servers' Prometheus metrics (the `metrics` program, one per app host): never proxied by
        # nginx, opened by the firewall to the monitor host only.
        "metrics_port": (int, 18160),
    },
    # One port per instance, counting up from roles.app.port; one event server per host.
    ports=(
        Port("port", count_option="instances", label="instance {n}"),
        Port("events_port"),
        Port("metrics_port", with_role="monitor"),
    ),
    validate=validate,
    links=(
        Link("app", "db", "all application data"),
        Link("app", "domain", "login binds, user and group sync"),
        Link("app", "comms", "SMTP submission"),
        # Declared here, not by comms: the endpoint (the app's inbound path) and its rules are the app's.
        Link("comms", "app", "inbound mail delivered to the app"),
        Link("app", "files", "upload, delete, presign"),
    ),
    depends_on=("db", "domain", "files", "comms"),
    # What gunicorn and the worker read (config.APP_SECRETS, the file secrets-app.toml).
    secrets=(
        "django_secret_key",
        "db_app_password",
        "ldap_app_password",
        "ldap_writer_password",
        "s3_app_access_key",
        "s3_app_secret_key",
        "comms_inbound_secret",
    ),
    # On the host besides, for root's CLI and the deployer: `strata backup` (the backup identity) and the
    # first admin's creation (a password hash: the password itself stays on the control machine).
    deploy_secrets=("s3_backup_access_key", "s3_backup_secret_key", "admin_password_hash"),
)
