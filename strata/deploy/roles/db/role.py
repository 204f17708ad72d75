"""The db role: a private PostgreSQL 15 instance, run as the `postgres` user."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg
from psycopg import sql

from strata.deploy import pki, stamps
from strata.deploy.config import Config, Host
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.app.spec import workers
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.db import pitr
from strata.deploy.roles.db.client import app_connection
from strata.deploy.roles.files.spec import names_to_resolve, pitr_storage_host, s3_tls_name
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.roles.monitor.role import exporter_user
from strata.deploy.roles.probe import Health, timed
from strata.deploy.system import chown, make_dir, require_reachable, require_resolves, run, service_user

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGRES_EXPORTER = "/usr/bin/prometheus-postgres-exporter"
# The postgres exporter's login (the monitor role).
MONITOR_USER = "strata_monitor"
# The change after_ready_once reports when it created the first admin (`strata up` then prints its password).
FIRST_ADMIN = "first admin"


class DbRole(Role):
    name = "db"

    def user(self) -> str | None:
        return service_user("postgres")

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        # Only when a client crosses hosts (see Config.tls_into): on one machine PostgreSQL stays plain.
        if not config.tls_into("db"):
            return []
        return [pki.CertRequest("db", (f"db.{config.site['domain']}",), (host.address,))]

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(str(PG_BIN / "postgres"), "PostgreSQL 15")
        user = self.user()
        require_reachable(ctx.var, user, "site.var_dir")
        self.make_dirs(ctx, user, "data", "run", "etc", "log")
        self.ensure_certificates(ctx)
        if self.certificates(ctx.config, ctx.host):
            # PostgreSQL refuses a key readable by others, and reads it as its own user.
            chown(ctx.pki / "db.key", user)
            require_reachable(ctx.pki, user, "the PKI directory")
        datadir = ctx.data("db") / "pgdata"
        if (datadir / "PG_VERSION").exists():
            return
        pwfile = ctx.run_dir("db") / "initdb.pw"
        write(pwfile, ctx.secrets["db_superuser_password"] + "\n", 0o600)
        chown(pwfile, user)
        try:
            run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                user=user,
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def render(self, ctx: HostContext) -> None:
        cfg = ctx.config
        db = cfg.roles["db"]
        # Every pooled connection of every app worker, plus room for admin tasks.
        # (Workers by cores count this host's cores: exact on one machine, an estimate across hosts.)
        needed = sum(workers(cfg, i.host.name) * db["pool_size"] for i in cfg.app_instances()) + 20
        etc = ctx.etc("db")
        common = dict(
            etc=etc,
            datadir=ctx.data("db") / "pgdata",
            rundir=ctx.run_dir("db"),
            address=ctx.host.address,
            port=db["port"],
            max_connections=max(100, needed),
            dbname=db["name"],
            dbuser=db["user"],
            # An app host on another machine may connect only over TLS (hostssl); one on the db's own
            # host keeps a plain `host` line (its traffic never leaves the machine).
            app_clients=sorted(
                {
                    (h.cidr(), "host" if h.address == ctx.host.address else "hostssl")
                    for h in cfg.hosts_of("app")
                }
            ),
            tls=cfg.tls_into("db"),
            monitor_user=MONITOR_USER if monitor.enabled(cfg) else "",
            own_cidr=ctx.host.cidr(),
            cert=ctx.pki / "db.crt",
            key=ctx.pki / "db.key",
            archive_command=(
                f"{pitr.PGBACKREST} --config={pitr.conf_path(etc)} --stanza={pitr.STANZA} archive-push %p"
                if pitr.enabled(cfg)
                else ""
            ),
        )
        write(etc / "postgresql.conf", render("db/templates/postgresql.conf.j2", **common))
        self._render_pitr(ctx)
        write(etc / "pg_hba.conf", render("db/templates/pg_hba.conf.j2", **common))
        self._render_exporter(ctx)
        write(etc / "pg_ident.conf", "# no ident maps\n")

    def _render_exporter(self, ctx: HostContext) -> None:
        """The postgres exporter's password file (mode 0600, its user's); removed without the monitor."""
        pw = ctx.etc("db") / "monitor.pw"
        if not monitor.enabled(ctx.config):
            pw.unlink(missing_ok=True)
            return
        write(pw, ctx.secrets["db_monitor_password"], 0o600)
        chown(pw, exporter_user())

    def _exporter_programs(self, ctx: HostContext) -> list[Program]:
        if not monitor.enabled(ctx.config):
            return []
        db = ctx.config.roles["db"]
        # On this host, to the maintenance database: the cluster's figures need no site data.
        uri = f"{listen_address(ctx.host.address)}:{db['port']}/postgres?sslmode=disable"
        return [
            Program(
                "db-exporter",
                "db",
                [
                    POSTGRES_EXPORTER,
                    f"--web.listen-address={listen_address(ctx.host.address)}:{db['metrics_port']}",
                    "--log.level=warn",
                ],
                user=exporter_user(),
                environment={
                    "DATA_SOURCE_URI": uri,
                    "DATA_SOURCE_USER": MONITOR_USER,
                    "DATA_SOURCE_PASS_FILE": str(ctx.etc("db") / "monitor.pw"),
                },
                stopsignal="TERM",
                stopwaitsecs=5,
                ports=[db["metrics_port"]],
            )
        ]

    def _render_pitr(self, ctx: HostContext) -> None:
        """pgBackRest's config (it holds the repository's S3 key and cipher passphrase: mode 0600, the
        postgres user's) and the password file its backups connect with; removed when pitr is off."""
        etc, cfg = ctx.etc("db"), ctx.config
        conf, pgpass = pitr.conf_path(etc), pitr.pgpass_path(etc)
        if not pitr.enabled(cfg):
            conf.unlink(missing_ok=True)
            pgpass.unlink(missing_ok=True)
            return
        # pgBackRest reaches a file server on another host by the name in its certificate only.
        require_resolves(ctx.host.name, names_to_resolve(cfg, ctx.host.name))
        files = cfg.roles["files"]
        for d in (ctx.log("db") / "pgbackrest", ctx.run_dir("db") / "pgbackrest"):
            make_dir(d, self.user(), 0o700)
        text = render(
            "db/templates/pgbackrest.conf.j2",
            stanza=pitr.STANZA,
            bucket=files["pitr_bucket"],
            tls_name=s3_tls_name(cfg),
            storage_host=pitr_storage_host(cfg),
            storage_port=files["port"],
            ca=ctx.pki / "ca.crt",
            key=ctx.secrets["s3_pitr_access_key"],
            key_secret=ctx.secrets["s3_pitr_secret_key"],
            cipher_pass=ctx.secrets["pgbackrest_cipher_pass"],
            retention_days=files["retention_days"],
            full_hours=files["pitr_full_hours"],
            log=ctx.log("db") / "pgbackrest",
            lock=ctx.run_dir("db") / "pgbackrest",
            datadir=ctx.data("db") / "pgdata",
            port=cfg.roles["db"]["port"],
            rundir=ctx.run_dir("db"),
        )
        write(conf, text, 0o600)
        chown(conf, self.user())
        write(pgpass, f"*:*:*:postgres:{ctx.secrets['db_superuser_password']}\n", 0o600)
        chown(pgpass, self.user())

    def pitr_repo(self, ctx: HostContext) -> pitr.Repo:
        etc = ctx.etc("db")
        return pitr.Repo(pitr.conf_path(etc), pitr.pgpass_path(etc), self.user())

    def validate(self, ctx: HostContext) -> None:
        run(
            [str(PG_BIN / "postgres"), "-D", str(ctx.etc("db")), "-C", "data_directory"],
            user=self.user(),
            what="PostgreSQL config check (postgres -C)",
        )

    def programs(self, ctx: HostContext) -> list[Program]:
        return [
            Program(
                "db",
                "db",
                [str(PG_BIN / "postgres"), "-D", str(ctx.etc("db"))],
                user=self.user(),
                stopsignal="INT",
                stopwaitsecs=60,
                startsecs=1,
                ports=[ctx.config.roles["db"]["port"]],
            ),
            *self._pitr_programs(ctx),
            *self._exporter_programs(ctx),
        ]

    def _pitr_programs(self, ctx: HostContext) -> list[Program]:
        if not pitr.enabled(ctx.config):
            return []
        etc = ctx.etc("db")
        return [
            Program(
                "db-pitr",
                "db",
                [
                    str(ctx.venv_bin / "python"),
                    "-m",
                    "strata.deploy.roles.db.pitr",
                    "schedule",
                    f"--conf={pitr.conf_path(etc)}",
                    f"--pgpass={pitr.pgpass_path(etc)}",
                    f"--every-hours={ctx.config.roles['files']['pitr_full_hours']}",
                ],
                user=self.user(),
                environment=ctx.code_env(),
                directory=str(ctx.code),
                stopsignal="TERM",
                stopwaitsecs=30,
                startsecs=1,
            )
        ]

    def _superuser(self, ctx: HostContext, dbname: str = "postgres"):
        return psycopg.connect(
            host=str(ctx.run_dir("db")),
            port=ctx.config.roles["db"]["port"],
            user="postgres",
            password=ctx.secrets["db_superuser_password"],
            dbname=dbname,
            connect_timeout=3,
            autocommit=True,
        )

    def ready_probe(self, ctx: HostContext) -> Health:
        def check():
            with self._superuser(ctx) as conn:
                conn.execute("SELECT 1")

        return timed(check)

    def after_start(self, ctx: HostContext) -> None:
        """Create (or update) the app's login role and its database."""
        db = ctx.config.roles["db"]
        role, name = sql.Identifier(db["user"]), sql.Identifier(db["name"])
        with self._superuser(ctx) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [db["user"]]).fetchone()
            verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    verb, role, sql.Literal(ctx.secrets["db_app_password"])
                )
            )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["name"]]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(name, role))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))
            if monitor.enabled(ctx.config):
                self._monitor_login(conn, ctx.secrets["db_monitor_password"])

    def _monitor_login(self, conn, password: str) -> None:
        """Create (or update) the postgres exporter's login: pg_monitor's statistics, no site data."""
        user = sql.Identifier(MONITOR_USER)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [MONITOR_USER]).fetchone()
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                verb, user, sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(user))

    def after_ready_once(self, ctxs: list[HostContext], step) -> list[str]:
        """Migrate the database and create the first admin, from the first app host of the topology
        (when this machine runs it), before any app server starts. Skipped when the code, packages,
        config and secrets are those they last ran with and the database still holds what they left
        (its migrations table and the admin: a recreated or restored database runs them again)."""
        changed = []
        for ctx in ctxs:
            if ctx.host.name != ctx.config.hosts_of("app")[0].name:
                continue
            mark = stamps.Stamp(ctx.var, f"{ctx.host.name}-migrate")
            before = schema_state(ctx)
            if before is not None and mark.fresh(ctx.stamp_inputs(before)):
                continue
            mark.forget()
            step("database migrations")
            if "No migrations to apply" not in ctx.manage("migrate", "--noinput", what="migrate"):
                changed.append("database migrations")
            out = ctx.manage("strata_admin", what="creating the first admin")
            if out.startswith("created"):
                changed.append(FIRST_ADMIN)
            after = schema_state(ctx)
            if after is not None:
                mark.write(ctx.stamp_inputs(after))
        return changed


def schema_state(ctx: HostContext) -> list[str] | None:
    """Return what migrate and the first admin leave in the app's database (the migrations applied, the
    admin's existence), read as the app's user; None when it cannot be read (no database or table yet)."""
    try:
        with contextlib.closing(app_connection(ctx.config, ctx.secrets, timeout=3)) as conn:
            migrations = conn.execute(
                "SELECT count(*), coalesce(max(id), 0), coalesce(max(applied)::text, '')"
                " FROM django_migrations"
            ).fetchone()
            admin = conn.execute(
                "SELECT count(*) FROM auth_user WHERE username = %s", [ctx.config.site["admin_username"]]
            ).fetchone()
    except (psycopg.Error, KeyError):
        return None
    return [f"migrations {migrations}", f"admin {admin}"]


ROLE = DbRole()
