"""The rolling upgrade's pure parts: the migration rule, the drain count, one server's roll in order, and
where the upgrade drill applies (strata upgrade on one host, the lab's from its control)."""

from __future__ import annotations

import argparse
import ipaddress

import pytest

from strata.deploy import upgrade
from strata.deploy.cli import drill as drillcli
from strata.deploy.config import parse
from strata.deploy.lab import topology
from strata.deploy.system import DeployError

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def _row(local_port: int, state: str) -> str:
    rest = "00000000:00000000 00:00000000 00000000 0 0 1"
    return f"   0: 0100007F:{local_port:04X} 0100007F:D431 {state} {rest}\n"


def lab_config():
    return parse(topology.default_topology(ipaddress.ip_network("198.18.0.32/27")), "/srv/lab/strata.toml")


def test_established_counts_the_servers_side_in_the_given_namespace(tmp_path):
    # /proc/<pid>/net/tcp is the table of that process's network namespace: a lab host's, read from
    # the control. 0A is LISTEN, 06 TIME_WAIT: neither is a request in flight.
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(HEADER + _row(8000, "01") + _row(8000, "0A") + _row(8001, "01"))
    (tmp_path / "net" / "tcp6").write_text(HEADER + _row(8000, "01") + _row(8000, "06"))
    assert upgrade.established("198.18.0.35", 8000, str(tmp_path)) == 2
    assert upgrade.established("198.18.0.35", 8002, str(tmp_path)) == 0
    assert upgrade.established("198.18.0.35", 8000, str(tmp_path / "gone")) == 0  # the server has exited


def test_a_contract_operation_is_refused_by_name():
    plan = [
        {"migration": "a.0002", "operations": [{"operation": "AddField x", "refused": ""}]},
        {"migration": "b.0003", "operations": [{"operation": "RemoveField y", "refused": "drops a column"}]},
    ]
    with pytest.raises(upgrade.MigrationRefused, match=r"b\.0003: RemoveField y drops a column"):
        upgrade.check_plan(plan)
    upgrade.check_plan(plan[:1])


def _recorder(calls: list, idle: bool = True, healthy_error: str = ""):
    def healthy() -> None:
        calls.append("healthz")
        if healthy_error:
            raise DeployError(healthy_error)

    return upgrade.Reach(
        lambda drained: calls.append(("pool", sorted(drained))),
        lambda: idle,
        lambda: calls.append("restart"),
        healthy,
    )


def test_one_server_leaves_the_pool_restarts_answers_and_comes_back_in_that_order():
    config = lab_config()
    inst = config.app_instances()[0]
    calls: list = []
    upgrade.roll(config, inst, _recorder(calls), 1, lambda _m: None)
    server = upgrade.server_of(inst)
    assert server == f"{inst.host.address}:{inst.port}"
    assert calls == [("pool", [server]), "restart", "healthz", ("pool", [])]


def test_a_server_that_stays_busy_is_stopped_gracefully_and_one_that_does_not_answer_stays_out():
    config = lab_config()
    inst = config.app_instances()[0]
    calls: list = []
    said: list[str] = []
    upgrade.roll(config, inst, _recorder(calls, idle=False), 0.1, said.append)
    assert "restart" in calls
    assert any("still had requests" in m for m in said)
    calls.clear()
    with pytest.raises(DeployError, match=f"{inst.name} is left out of nginx's pool"):
        upgrade.roll(config, inst, _recorder(calls, healthy_error="no /healthz"), 1, said.append)
    assert calls[-1] == "healthz"  # never put back in


def test_the_upgrade_drill_is_skipped_on_a_multi_host_topology_but_not_from_the_labs_control(capsys):
    config = lab_config()
    args = argparse.Namespace(drills=["all"], yes_really=False)
    assert not drillcli.upgrade_applies(config)
    assert "upgrade" not in drillcli.check_args(config, args)
    assert "upgrade: skipped" in capsys.readouterr().out
    assert "upgrade" in drillcli.check_args(config, args, lab=True)
