"""The app role: gunicorn running Django, one process per app-server instance."""

from __future__ import annotations

import shutil
from pathlib import Path

from strata.deploy import pki
from strata.deploy.config import ENV_SECRETS, Config, Host, write_app_secrets
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.app.client import app_tls_name, probe_host
from strata.deploy.roles.app.spec import THREADS, workers
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.roles.probe import Health
from strata.deploy.system import chown, make_dir, require_reachable, service_user

APP_USER = "strata"
WEB_GROUP = "www-data"


class AppRole(Role):
    name = "app"
    system_users = (APP_USER,)

    def user(self) -> str | None:
        return service_user(APP_USER)

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        # Every app certificate carries the one name nginx verifies (app_tls_name) and its host's address
        # (what Postfix's delivery and the probes connect to). Only when a client crosses hosts.
        if not config.tls_into("app"):
            return []
        return [pki.CertRequest("app", (app_tls_name(config),), (host.address,))]

    def prepare(self, ctx: HostContext) -> None:
        user = self.user()
        self.make_dirs(ctx, None, "etc", "log")
        self.ensure_certificates(ctx)
        if self.certificates(ctx.config, ctx.host):
            # Read by gunicorn's workers, which run as the app's user.
            chown(ctx.pki / "app.key", user)
            require_reachable(ctx.pki, user, "the PKI directory")
        # The app's processes read only their own subset of the secrets, as their own user.
        chown(write_app_secrets(ctx.config, ctx.secrets), user)
        require_reachable(ctx.code, user, "the Strata code")
        require_reachable(ctx.venv_bin, user, "the virtualenv")
        require_reachable(ctx.config.path, user, "the config file")
        for inst in ctx.config.app_instances(ctx.host.name):
            metrics = self._metrics_dir(ctx, inst)
            if metrics is not None:
                make_dir(metrics, user, 0o700)
        if not ctx.config.enabled("files"):
            # The fallback file store: written by the app, read by nginx (same host, see config checks).
            store = make_dir(ctx.data("files-local"), user, 0o2750)
            if user:
                shutil.chown(store, group=WEB_GROUP)

    def _metrics_env(self, ctx, instance) -> dict[str, str]:
        found = self._metrics_dir(ctx, instance)
        return {"PROMETHEUS_MULTIPROC_DIR": str(found)} if found else {}

    def _metrics_dir(self, ctx, instance) -> Path | None:
        """Return INSTANCE's Prometheus multiprocess directory (strata.ops.metrics), None while the monitor
        role is off (nothing would read the counts: the processes count nothing on disk)."""
        if not monitor.enabled(ctx.config):
            return None
        return ctx.run_dir("app") / "metrics" / instance.name

    def _conf(self, ctx, instance):
        return ctx.etc("app") / f"gunicorn-{instance.index}.conf.py"

    def render(self, ctx: HostContext) -> None:
        app = ctx.config.roles["app"]
        web_addresses = sorted({h.address for h in ctx.config.hosts_of("web")})
        for inst in ctx.config.app_instances(ctx.host.name):
            write(
                self._conf(ctx, inst),
                render(
                    "app/templates/gunicorn.conf.py.j2",
                    bind=f"{listen_address(inst.host.address)}:{inst.port}",
                    workers=workers(ctx.config, ctx.host.name),
                    threads=THREADS,
                    timeout=app["timeout"],
                    name=f"strata-{inst.name}",
                    forwarded_allow_ips=",".join(web_addresses),
                    tls=ctx.config.tls_into("app"),
                    cert=ctx.pki / "app.crt",
                    key=ctx.pki / "app.key",
                    metrics_dir=self._metrics_dir(ctx, inst),
                ),
            )

    def validate(self, ctx: HostContext) -> None:
        # Imports the settings (so the config and secrets are read exactly as gunicorn will) and runs
        # Django's deployment checks: anything but a clean report stops `strata up`. Skipped when the code,
        # packages, config and secrets are those it last passed with (strata.deploy.stamps).
        ctx.manage_unless_fresh(
            "app-check", list, "check", "--deploy", "--fail-level", "WARNING", what="Django deployment check"
        )

    def programs(self, ctx: HostContext) -> list[Program]:
        env = {**ctx.django_env(), ENV_SECRETS: str(ctx.config.app_secrets_path)}
        user, directory = self.user(), str(ctx.code)
        manage = [str(ctx.venv_bin / "python"), "-m", "django"]
        out = [
            Program(
                inst.name,
                "app",
                [
                    str(ctx.venv_bin / "gunicorn"),
                    "-c",
                    str(self._conf(ctx, inst)),
                    "strata.site.wsgi:application",
                ],
                stopsignal="TERM",
                stopwaitsecs=ctx.config.roles["app"]["timeout"] + 5,
                ports=[inst.port],
                user=user,
                environment={**env, **self._metrics_env(ctx, inst)},
                directory=directory,
            )
            for inst in ctx.config.app_instances(ctx.host.name)
        ]
        if monitor.enabled(ctx.config):
            out.append(self._metrics_program(ctx, env))
        # The event server (strata/live/server.py): one uvicorn process per host holds every open page's
        # stream as a coroutine; the pages themselves stay on gunicorn.
        out.append(self._events_program(ctx, env))
        # The background task worker runs on every app host; it finishes its current task on TERM. The
        # first app host's worker also enqueues the periodic tasks (one scheduler for the whole site).
        first = ctx.host.name == ctx.config.hosts_of("app")[0].name
        out.append(
            Program(
                "worker",
                "app",
                [*manage, "strata_worker", "--interval", "1", *(["--scheduler"] if first else [])],
                stopsignal="TERM",
                stopwaitsecs=60,
                user=user,
                environment=env,
                directory=directory,
            )
        )
        return out

    def _metrics_program(self, ctx: HostContext, env: dict) -> Program:
        """Return the host's `metrics` program: the app servers' counts and the queues, for Prometheus
        (strata.ops.management.commands.strata_metrics), on roles.app.metrics_port."""
        port = ctx.config.roles["app"]["metrics_port"]
        instances = [
            f"--instance={i.name}={self._metrics_dir(ctx, i)}"
            for i in ctx.config.app_instances(ctx.host.name)
        ]
        tls = []
        if ctx.config.tls_into("app"):
            tls = [f"--certfile={ctx.pki / 'app.crt'}", f"--keyfile={ctx.pki / 'app.key'}"]
        return Program(
            "metrics",
            "app",
            [
                str(ctx.venv_bin / "python"),
                "-m",
                "django",
                "strata_metrics",
                f"--address={listen_address(ctx.host.address)}",
                f"--port={port}",
                *instances,
                *tls,
            ],
            stopsignal="TERM",
            stopwaitsecs=5,
            ports=[port],
            user=self.user(),
            environment=env,
            directory=str(ctx.code),
        )

    def _events_program(self, ctx: HostContext, env: dict) -> Program:
        port = ctx.config.roles["app"]["events_port"]
        tls = []
        if ctx.config.tls_into("app"):
            tls = ["--ssl-certfile", str(ctx.pki / "app.crt"), "--ssl-keyfile", str(ctx.pki / "app.key")]
        return Program(
            "events",
            "app",
            [
                str(ctx.venv_bin / "uvicorn"),
                "strata.live.server:application",
                "--host",
                listen_address(ctx.host.address),
                "--port",
                str(port),
                "--no-access-log",
                "--lifespan",
                "on",
                # Streams never end by themselves: on TERM, close them soon (pages reconnect elsewhere).
                "--timeout-graceful-shutdown",
                "2",
                *tls,
            ],
            stopsignal="TERM",
            stopwaitsecs=10,
            ports=[port],
            user=self.user(),
            environment=env,
            directory=str(ctx.code),
        )

    def ready_probe(self, ctx: HostContext) -> Health:
        return probe_host(ctx.config, ctx.host.name)


ROLE = AppRole()
