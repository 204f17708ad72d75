"""The web role: nginx terminating TLS, serving static files and balancing the app servers."""

from __future__ import annotations

from strata.deploy import pki
from strata.deploy.config import Config, Host
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.files.spec import ACCEL_LOCAL_PREFIX, ACCEL_S3_PREFIX, s3_tls_name
from strata.deploy.system import make_dir, require_reachable, run, service_user

NGINX = "/usr/sbin/nginx"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def files_context(ctx: HostContext) -> dict:
    """Where nginx fetches file bytes from: the file server's S3 port (HTTPS, verified against the site CA
    and the name in the file server's certificate), or the app host's disk."""
    cfg = ctx.config
    opts = cfg.options("files")
    out = {
        "files_s3": cfg.enabled("files"),
        "max_upload_mb": opts["max_upload_mb"],
        "files_local": ctx.data("files-local"),
        "files_s3_host": "",
        "files_s3_name": "",
        "files_ca": ctx.pki / "ca.crt",
        "accel_s3": ACCEL_S3_PREFIX,
        "accel_local": ACCEL_LOCAL_PREFIX,
    }
    if cfg.enabled("files"):
        host = cfg.host_of("files")
        out["files_s3_host"] = f"{listen_address(host.address)}:{opts['port']}"
        out["files_s3_name"] = s3_tls_name(cfg)
    return out


class WebRole(Role):
    name = "web"

    def user(self) -> str | None:
        return service_user("www-data")

    def _nginx_args(self, ctx: HostContext) -> list[str]:
        return [
            NGINX,
            "-p",
            str(ctx.run_dir("web")),
            "-c",
            str(ctx.etc("web") / "nginx.conf"),
            "-e",
            str(ctx.log("web") / "error.log"),
        ]

    def certificates(self, config: Config, host: Host) -> list[pki.CertRequest]:
        names = tuple(dict.fromkeys([config.site["domain"], "localhost"]))
        addresses = tuple(sorted({"127.0.0.1", *(h.address for h in config.hosts_of("web"))}))
        return [pki.CertRequest("web", names, addresses)]

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(NGINX, "nginx")
        user = self.user()
        self.make_dirs(ctx, None, "etc", "log", "run")
        for d in TEMP_DIRS:
            make_dir(ctx.run_dir("web") / "tmp" / d, user, 0o700)
        make_dir(ctx.static, None, 0o755)
        require_reachable(ctx.static, user, "the static files directory")
        self.ensure_certificates(ctx)
        # Collected here because nginx serves them from this host's disk.
        ctx.manage("collectstatic", "--noinput", "--clear", what="collectstatic")

    def render(self, ctx: HostContext) -> None:
        cfg = ctx.config
        web, site = cfg.roles["web"], cfg.site
        https_port = web["https_port"]
        write(
            ctx.etc("web") / "nginx.conf",
            render(
                "web/templates/nginx.conf.j2",
                user=self.user(),
                workers=web["workers"],
                run=ctx.run_dir("web"),
                log=ctx.log("web"),
                temp_dirs=TEMP_DIRS,
                address=listen_address(ctx.host.address),
                http_port=web["http_port"],
                https_port=https_port,
                port_suffix="" if https_port == 443 else f":{https_port}",
                server_name=site["domain"],
                cert=ctx.pki / "web.crt",
                key=ctx.pki / "web.key",
                static=ctx.static,
                hsts_seconds=site["hsts_seconds"],
                app_servers=[f"{listen_address(i.host.address)}:{i.port}" for i in cfg.app_instances()],
                fail_timeout=10,
                **files_context(ctx),
            ),
        )

    def validate(self, ctx: HostContext) -> None:
        run([*self._nginx_args(ctx), "-t", "-q"], what="nginx config check (nginx -t)")

    def programs(self, ctx: HostContext) -> list[Program]:
        web = ctx.config.roles["web"]
        return [
            Program(
                "web",
                "web",
                self._nginx_args(ctx),
                stopsignal="QUIT",
                stopwaitsecs=30,
                ports=[web["http_port"], web["https_port"]],
            )
        ]


ROLE = WebRole()
