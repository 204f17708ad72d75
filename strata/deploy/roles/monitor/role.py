"""The monitor role: Prometheus from Debian scraping every metrics endpoint, with Strata's alert rules;
and, on every host of the topology while it is enabled, the node exporter (host_programs)."""

from __future__ import annotations

from strata.deploy.config import Config
from strata.deploy.render import listen_address, render, write
from strata.deploy.roles.base import HostContext, Program, Role
from strata.deploy.roles.monitor import spec as monitor
from strata.deploy.system import make_dir, run, service_user

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
# The Debian packages' system user: Prometheus and every exporter run as it.
USER = "prometheus"
# The node exporter's collectors: what the alert rules and an admin read (disk, memory, CPU, load), no more.
NODE_COLLECTORS = ("cpu", "filesystem", "loadavg", "meminfo", "netdev", "textfile")


def exporter_user() -> str | None:
    return service_user(USER)


def prepare_node_exporter(ctx: HostContext) -> None:
    """Create the node exporter's log and textfile directories on ctx's host (when it runs one)."""
    if node_exporter(ctx):
        make_dir(ctx.run_dir("node-exporter"), None, 0o755)
        make_dir(ctx.log("monitor"), None, 0o755)


def node_exporter(ctx: HostContext) -> list[Program]:
    """Return the node exporter of ctx's host (when the monitor role is enabled and the host runs a role)."""
    config = ctx.config
    if not monitor.enabled(config) or not config.roles_on(ctx.host.name):
        return []
    port = config.roles["monitor"]["node_port"]
    textfiles = ctx.run_dir("node-exporter")
    return [
        Program(
            "node-exporter",
            "monitor",
            [
                NODE_EXPORTER,
                f"--web.listen-address={listen_address(ctx.host.address)}:{port}",
                "--collector.disable-defaults",
                *(f"--collector.{c}" for c in NODE_COLLECTORS),
                f"--collector.textfile.directory={textfiles}",
                # Only real file systems: the alert on a full disk must not fire on /proc or a tmpfs.
                "--collector.filesystem.fs-types-exclude=^(tmpfs|devtmpfs|overlay|proc|sysfs|squashfs|nsfs)$",
            ],
            user=exporter_user(),
            stopsignal="TERM",
            stopwaitsecs=5,
            ports=[port],
        )
    ]


class MonitorRole(Role):
    name = "monitor"
    system_users = ()

    def prepare(self, ctx: HostContext) -> None:
        self.require_binary(PROMETHEUS, "prometheus")
        self.make_dirs(ctx, exporter_user(), "etc", "log", "data")

    def render(self, ctx: HostContext) -> None:
        etc = ctx.etc("monitor")
        write(etc / "rules.yml", render("monitor/templates/rules.yml.j2"))
        write(etc / "prometheus.yml", render_config(ctx.config, etc / "rules.yml"))

    def validate(self, ctx: HostContext) -> None:
        etc = ctx.etc("monitor")
        run([PROMTOOL, "check", "config", str(etc / "prometheus.yml")], what="promtool check config")

    def programs(self, ctx: HostContext) -> list[Program]:
        opts = ctx.config.roles["monitor"]
        etc = ctx.etc("monitor")
        return [
            Program(
                "monitor",
                "monitor",
                [
                    PROMETHEUS,
                    f"--config.file={etc / 'prometheus.yml'}",
                    f"--storage.tsdb.path={ctx.data('monitor')}",
                    f"--storage.tsdb.retention.time={opts['retention_days']}d",
                    f"--web.listen-address={listen_address(ctx.host.address)}:{opts['port']}",
                    "--log.level=warn",
                ],
                user=exporter_user(),
                directory=str(ctx.data("monitor")),
                stopsignal="TERM",
                stopwaitsecs=30,
                ports=[opts["port"]],
            )
        ]


def render_config(config: Config, rules) -> str:
    """Return prometheus.yml: one job per kind of endpoint (monitor.targets), each target labelled with its
    host's name."""
    jobs: dict[str, list[monitor.Target]] = {}
    for t in monitor.targets(config):
        jobs.setdefault(t.job, []).append(t)
    return render(
        "monitor/templates/prometheus.yml.j2",
        interval=config.roles["monitor"]["scrape_seconds"],
        rules=rules,
        jobs=jobs,
        ca=config.ca_cert,
    )


ROLE = MonitorRole()
