"""The monitor role's rendered pieces: Prometheus's config and alert rules (checked by promtool), the
targets of every role, each exporter's program, and the firewall letting only the monitor reach them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from strata.deploy import firewall
from strata.deploy.config import ConfigError, parse, port_bindings
from strata.deploy.render import render
from strata.deploy.roles.app.role import ROLE as APP
from strata.deploy.roles.base import HostContext
from strata.deploy.roles.db.role import ROLE as DB
from strata.deploy.roles.monitor import role as monitor_role
from strata.deploy.roles.monitor.spec import targets
from strata.deploy.roles.web.role import ROLE as WEB
from tests.support.stack import IN_CI

TOPOLOGY = """
[hosts.front]
address = "198.18.0.2"
[hosts.app1]
address = "198.18.0.3"
[hosts.data]
address = "198.18.0.5"
[hosts.watch]
address = "198.18.0.9"
[roles.web]
hosts = ["front"]
[roles.app]
hosts = ["app1"]
[roles.db]
hosts = ["data"]
[roles.files]
hosts = ["data"]
"""
MONITOR = '[roles.monitor]\nhosts = ["watch"]\n'


def config(monitor: str = MONITOR):
    return parse(TOPOLOGY + monitor, "/srv/site/strata.toml")


def promtool():
    if shutil.which("promtool") is None:
        if IN_CI:
            pytest.fail("promtool is missing (package prometheus): `make test` installs it")
        pytest.skip("promtool is missing (package prometheus; `make test` installs it)")
    return "promtool"


def test_targets_cover_every_role_and_host_only_with_the_monitor():
    assert targets(config(monitor="")) == []
    assert targets(config(monitor='[roles.monitor]\nhosts = ["watch"]\nenabled = false\n')) == []
    got = {(t.job, t.host, t.port) for t in targets(config())}
    assert got == {
        ("web", "front", 18162),
        ("app", "app1", 18160),
        ("db", "data", 18161),
        ("files", "data", 18164),
        ("node", "front", 18170),
        ("node", "app1", 18170),
        ("node", "data", 18170),
        ("node", "watch", 18170),
        ("prometheus", "watch", 18190),
    }


def test_metrics_ports_count_only_with_the_monitor():
    without = {key for _r, key, _p, _h in port_bindings(config(monitor=""))}
    assert not any("metrics_port" in k or "status_port" in k or "node_port" in k for k in without)
    with_monitor = {(key, h.name) for _r, key, _p, h in port_bindings(config())}
    assert ("roles.db.metrics_port", "data") in with_monitor
    assert ("roles.monitor.node_port", "front") in with_monitor
    # A clash with a metrics port is refused like any other.
    with pytest.raises(ConfigError, match="roles.files.metrics_port"):
        parse(
            TOPOLOGY.replace(
                '[roles.files]\nhosts = ["data"]', '[roles.files]\nhosts = ["data"]\nmetrics_port = 18161'
            )
            + MONITOR,
            "/srv/site/strata.toml",
        )


def test_prometheus_config_and_rules_pass_promtool(tmp_path):
    tool = promtool()
    rules = tmp_path / "rules.yml"
    rules.write_text(render("monitor/templates/rules.yml.j2"))
    conf = tmp_path / "prometheus.yml"
    conf.write_text(monitor_role.render_config(config(), rules))
    for args in (["check", "rules", str(rules)], ["check", "config", str(conf)]):
        proc = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    text = conf.read_text()
    assert '"198.18.0.5:18161"' in text
    # The app speaks TLS (its links cross hosts): its metrics too, verified against the site CA.
    app_job = text.split('job_name: "app"', 1)[1].split("job_name", 1)[0]
    assert "scheme: https" in app_job
    assert 'ca_file: "/srv/site/var/pki/ca.crt"' in app_job
    assert "scheme: https" not in text.split('job_name: "db"', 1)[1].split("job_name", 1)[0]
    assert 'job_name: "node"' in text
    alerts = rules.read_text()
    for alert in ("RoleDown", "DiskAlmostFull", "NotificationBacklog", "WalArchivingFailing", "ServerErrors"):
        assert f"alert: {alert}" in alerts


def test_exporters_run_only_with_the_monitor():
    def names(cfg, role, host):
        return {p.name for p in role.programs(HostContext(cfg, {}, cfg.hosts[host]))}

    for cfg, present in ((config(), True), (config(monitor=""), False)):
        assert ("db-exporter" in names(cfg, DB, "data")) is present
        assert ("web-exporter" in names(cfg, WEB, "front")) is present
        assert ("metrics" in names(cfg, APP, "app1")) is present
        assert bool(monitor_role.node_exporter(HostContext(cfg, {}, cfg.hosts["front"]))) is present


def test_app_servers_count_on_disk_only_with_the_monitor(tmp_path):
    """Without the monitor nothing reads the app's counts: no multiprocess directory, no gunicorn hooks."""
    for cfg, present in ((config(), True), (config(monitor=""), False)):
        ctx = HostContext(cfg, {}, cfg.hosts["app1"])
        (instance,) = [p for p in APP.programs(ctx) if p.name == "app-1"]
        assert ("PROMETHEUS_MULTIPROC_DIR" in instance.environment) is present
        text = render(
            "app/templates/gunicorn.conf.py.j2",
            bind="127.0.0.1:1",
            workers=1,
            threads=1,
            timeout=30,
            name="x",
            forwarded_allow_ips="",
            tls=False,
            cert="",
            key="",
            metrics_dir=APP._metrics_dir(ctx, cfg.app_instances()[0]),
        )
        assert ("def child_exit" in text) is present


def test_only_the_monitor_host_reaches_the_metrics_ports():
    cfg = config()
    watch, app, front = "198.18.0.9", "198.18.0.3", "198.18.0.2"
    assert firewall.allowed(cfg, watch, "data", 18161)  # postgres exporter
    assert firewall.allowed(cfg, watch, "data", 18164)  # SeaweedFS
    assert firewall.allowed(cfg, watch, "app1", 18160)
    assert firewall.allowed(cfg, watch, "front", 18162)
    assert firewall.allowed(cfg, watch, "front", 18170)  # node exporter
    assert not firewall.allowed(cfg, watch, "data", 15432)  # the monitor reaches no server itself
    assert not firewall.allowed(cfg, app, "data", 18161)
    assert not firewall.allowed(cfg, front, "app1", 18160)
    assert not firewall.allowed(cfg, None, "front", 18163)  # stub_status: loopback only
    # The status page (app hosts) reads Prometheus's API.
    assert firewall.allowed(cfg, app, "watch", 18190)
    assert not firewall.allowed(cfg, front, "watch", 18190)


def test_the_monitors_links_are_probed_at_the_metrics_endpoints_the_firewall_opens_to_it():
    # Found in the Ansible lab: monitor -> files was probed at the S3 port, which only web, app and db reach.
    from unittest import mock

    from strata.deploy import health

    c = config()
    with mock.patch.object(health, "_tcp", side_effect=lambda address, port: (address, port)):
        for target in ("web", "app", "db", "files"):
            probed = health.link_checks(c, {}, "monitor", target)
            assert probed == [(t.address, t.port) for t in targets(c) if t.job == target], target
            for address, port in probed:
                host = next(h.name for h in c.hosts.values() if h.address == address)
                assert firewall.allowed(c, c.hosts["watch"].address, host, port), (target, port)
