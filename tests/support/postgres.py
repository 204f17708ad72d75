"""One real PostgreSQL for the in-process tier, started by the db role's own code on a free port."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from pathlib import Path

from psycopg import sql

from strata.deploy import config as cfgmod
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.db.role import ROLE as DB
from strata.deploy.system import DeployError


def settings_for(root: Path) -> Path:
    """Write a one-host topology and its secrets under ROOT (what strata.site.settings reads); return
    the strata.toml path."""
    from tests.support.stack import write_topology

    path = write_topology(root, instances=1)
    config = cfgmod.load(path)
    config.var_dir.mkdir(parents=True, exist_ok=True)
    cfgmod.ensure_secrets(config)
    return path


@contextlib.contextmanager
def running_postgres(path: Path):
    """Start PostgreSQL for the topology at PATH the way `make up` does (initdb, rendered config, the
    role's command line), without the supervisor; let the app's role create databases (pytest-django
    makes the test database); stop it and remove its files afterwards."""
    config = cfgmod.load(path)
    secrets = cfgmod.load_secrets(config)
    ctx = HostContext(config, secrets, config.host_of("db"))
    DB.prepare(ctx)
    DB.render(ctx)
    # The role admits the app to its own database only; pytest-django also needs `postgres` (to create
    # the test database) and the test database itself.
    with (ctx.etc("db") / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all {config.roles['db']['user']} 127.0.0.1/32 scram-sha-256\n")
    (program,) = DB.programs(ctx)
    log = ctx.log("db") / "postgres.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(program.command, user=program.user, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            DB.wait_ready(ctx)
        except DeployError as exc:
            raise DeployError(f"{exc}\n{log.read_text(errors='replace')[-2000:]}") from None
        DB.after_start(ctx)
        with DB._superuser(ctx) as conn:
            # Only this throwaway cluster: pytest-django creates and drops the test database as the app.
            conn.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(config.roles["db"]["user"])))
        yield ctx
    finally:
        proc.send_signal(getattr(signal, "SIG" + program.stopsignal))
        try:
            proc.wait(timeout=program.stopwaitsecs)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(ctx.data("db"), ignore_errors=True)
