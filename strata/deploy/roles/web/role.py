"""The web role: nginx terminating TLS, serving static files and balancing the app servers."""

from __future__ import annotations

import sys
from pathlib import Path

from strata.deploy import pki
from strata.deploy.config import Config, Host
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.app.client import app_tls_name
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.files.spec import ACCEL_LOCAL_PREFIX, ACCEL_S3_PREFIX, s3_tls_name
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.roles.monitor.role import exporter_user
from strata.deploy.roles.web import tls
from strata.deploy.roles.web.spec import DAV_MAX_XML, content_host
from strata.deploy.system import DeployError, make_dir, require_reachable, run, service_user

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
        "dav_max_xml_bytes": DAV_MAX_XML,
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


NGINX_EXPORTER = "/usr/bin/prometheus-nginx-exporter"


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
        # The content host's own certificate: a name only (browsers reach it by name, never by address).
        return [
            pki.CertRequest("web", names, addresses),
            pki.CertRequest("content", (content_host(config),), ()),
        ]

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(NGINX, "nginx")
        user = self.user()
        self.make_dirs(ctx, None, "etc", "log", "run")
        for d in TEMP_DIRS:
            make_dir(ctx.run_dir("web") / "tmp" / d, user, 0o700)
        make_dir(ctx.static, None, 0o755)
        require_reachable(ctx.static, user, "the static files directory")
        self.ensure_certificates(ctx)
        self._prepare_public_certificate(ctx)
        # Collected here because nginx serves them from this host's disk; again only when the code or
        # packages changed (strata.deploy.stamps) or what was collected is no longer all there.
        ctx.manage_unless_fresh(
            "collectstatic",
            lambda: [collected(ctx.static)],
            "collectstatic",
            "--noinput",
            "--clear",
            what="collectstatic",
        )

    def _prepare_public_certificate(self, ctx: HostContext) -> None:
        """Check the admin's files (tls = "files"), or make certbot's directories (tls = "acme")."""
        source = ctx.config.roles["web"]["tls"]
        if source == "files":
            tls.check_files(ctx.config)
        elif source == "acme":
            if not Path(tls.CERTBOT).exists():
                raise DeployError(
                    f'roles.web.tls = "acme" needs certbot ({tls.CERTBOT} missing): apt-get install certbot'
                )
            paths = tls.AcmePaths.of(ctx.var, ctx.log_root)
            # The challenge tokens are public (nginx's workers read them); certbot's state is root's alone.
            make_dir(paths.webroot, None, 0o755)
            make_dir(paths.state, None, 0o700)
            make_dir(paths.logs, None, 0o700)

    def public_certificate(self, ctx: HostContext) -> tuple[Path, Path]:
        """Return the certificate and key nginx serves for site.domain (tls.py says where they come from)."""
        web = ctx.config.roles["web"]
        if web["tls"] == "files":
            return Path(web["cert_file"]), Path(web["key_file"])
        if web["tls"] == "acme":
            paths = tls.AcmePaths.of(ctx.var, ctx.log_root)
            if tls.usable_lineage(paths, ctx.config.site["domain"]):
                tls.point_links(paths, paths.lineage / "fullchain.pem", paths.lineage / "privkey.pem")
            else:
                # Until the first ACME certificate: the site CA's, so that nginx starts and answers HTTP-01.
                tls.point_links(paths, ctx.pki / "web.crt", ctx.pki / "web.key")
            return paths.cert, paths.key
        return ctx.pki / "web.crt", ctx.pki / "web.key"

    def render(self, ctx: HostContext) -> None:
        self.render_pool(ctx, frozenset())

    def render_pool(self, ctx: HostContext, drained: frozenset[str]) -> None:
        """Write nginx.conf with the app servers DRAINED (their "address:port") marked down: nginx sends
        them no new request (strata upgrade takes them out of the pool one at a time)."""
        cfg = ctx.config
        web, site = cfg.roles["web"], cfg.site
        https_port = web["https_port"]
        cert, key = self.public_certificate(ctx)
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
                cert=cert,
                key=key,
                # A public certificate for site.domain: the site CA's still answers requests by address
                # (the probes, `strata status`).
                internal_cert=ctx.pki / "web.crt" if tls.is_public(cfg) else None,
                internal_key=ctx.pki / "web.key",
                ocsp_stapling=tls.is_public(cfg),
                acme_webroot=tls.AcmePaths.of(ctx.var).webroot if web["tls"] == "acme" else None,
                content_host=content_host(cfg),
                content_origin=f"https://{content_host(cfg)}{'' if https_port == 443 else f':{https_port}'}",
                content_cert=ctx.pki / "content.crt",
                content_key=ctx.pki / "content.key",
                static=ctx.static,
                hsts_seconds=site["hsts_seconds"],
                app_servers=[f"{listen_address(i.host.address)}:{i.port}" for i in cfg.app_instances()],
                drained=drained,
                event_servers=[
                    f"{listen_address(h.address)}:{cfg.roles['app']['events_port']}"
                    for h in cfg.hosts_of("app")
                ],
                app_tls=cfg.tls_into("app"),
                app_tls_ca=cfg.ca_cert,
                app_tls_name=app_tls_name(cfg),
                fail_timeout=10,
                status_port=web["status_port"] if monitor.enabled(cfg) else None,
                **files_context(ctx),
            ),
        )

    def validate(self, ctx: HostContext) -> None:
        run([*self._nginx_args(ctx), "-t", "-q"], what="nginx config check (nginx -t)")

    def reload(self, ctx: HostContext) -> None:
        """Make the running nginx read its config again, gracefully: new workers take new connections,
        the old ones finish what they are serving, then exit."""
        self.validate(ctx)
        run([*self._nginx_args(ctx), "-s", "reload"], what="nginx reload")

    def programs(self, ctx: HostContext) -> list[Program]:
        web = ctx.config.roles["web"]
        programs = [
            Program(
                "web",
                "web",
                self._nginx_args(ctx),
                stopsignal="QUIT",
                stopwaitsecs=30,
                ports=[web["http_port"], web["https_port"]],
            )
        ]
        if monitor.enabled(ctx.config):
            programs.append(
                Program(
                    "web-exporter",
                    "web",
                    [
                        NGINX_EXPORTER,
                        f"-nginx.scrape-uri=http://127.0.0.1:{web['status_port']}/stub_status",
                        f"-web.listen-address={listen_address(ctx.host.address)}:{web['metrics_port']}",
                        # nginx starts with it: wait for its first answer rather than exit.
                        "-nginx.retries=30",
                    ],
                    user=exporter_user(),
                    stopwaitsecs=5,
                    ports=[web["metrics_port"]],
                )
            )
        if web["tls"] == "acme":
            # Renewal: `certbot renew` twice a day under the host's supervisor (tls.renew_loop), as root:
            # certbot's keys are root's and its deploy hook signals nginx's master.
            programs.append(
                Program(
                    "web-acme",
                    "web",
                    [sys.executable, "-m", "strata.deploy.roles.web.tls", "renew-loop"],
                    environment=ctx.django_env(),
                    directory=str(ctx.code),
                    stopwaitsecs=5,
                )
            )
        return programs

    def after_start(self, ctx: HostContext) -> None:
        """Obtain the first ACME certificate now that nginx answers HTTP-01 (tls = "acme"); a failure leaves
        the site CA's certificate in place and web-acme retries."""
        config = ctx.config
        if config.roles["web"]["tls"] != "acme":
            return
        paths = tls.AcmePaths.of(ctx.var, ctx.log_root)
        if tls.usable_lineage(paths, config.site["domain"]):
            return
        ok, last = tls.run_certbot(config, paths, "certonly")
        if not ok:
            print(
                f"strata: web on {ctx.host.name}: no ACME certificate yet ({last}); serving the site CA's "
                f"certificate, retrying every {tls.RETRY_SECONDS // 60} min (logs: {paths.logs})",
                file=sys.stderr,
            )


ROLE = WebRole()


def collected(static: Path) -> str:
    """Return a summary of the files under STATIC (each one's path and size): a deleted or truncated file
    makes the next `up` collect again."""
    return "\n".join(
        f"{p.relative_to(static)} {p.stat().st_size}" for p in sorted(static.rglob("*")) if p.is_file()
    )
