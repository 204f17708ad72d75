"""The `strata` command line: exit codes and one-line errors, and `up` refusing before touching anything."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from strata.deploy import local as deploy
from strata.deploy.cli import main as cli
from strata.deploy.config import ENV_HOST
from strata.deploy.system import port_free
from tests.support.stack import free_ports

DEFAULT = Path(deploy.__file__).parent / "default.toml"


@pytest.fixture(autouse=True)
def _guard(monkeypatch):
    """Whatever happens, these tests never get past `up`'s checks: init() is where writing starts."""
    monkeypatch.delenv(ENV_HOST, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("strata up went past its checks and started writing")

    monkeypatch.setattr(deploy, "init", refuse)


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("strata: ")
    return lines[0]


def topology(web="", app="", db="", site="") -> str:
    return (
        f'[site]\n{site}\n[hosts.local]\naddress = "127.0.0.1"\n'
        f'[roles.web]\nhosts = ["local"]\n{web}\n[roles.app]\nhosts = ["local"]\n{app}\n'
        f'[roles.db]\nhosts = ["local"]\n{db}\n'
    )


def test_check_default_config(tmp_path, capsys):
    path = tmp_path / "strata.toml"
    shutil.copyfile(DEFAULT, path)
    assert cli.main(["-c", str(path), "check"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    flat = " ".join(captured.out.split())
    assert "ok (1 host(s), roles: web, app, db, comms, domain, files)" in flat
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (topology(web="bogus = 1"), "roles.web.bogus"),
        (topology(app='port = "18101"'), "roles.app.port"),
        (topology(db="port = 18101"), "roles.db.port"),
        (topology(site="colour = 'red'"), "site.colour"),
        (topology().replace('address = "127.0.0.1"', 'address = "localhost"'), "hosts.local.address"),
    ],
)
def test_check_bad_config(tmp_path, capsys, text, key):
    path = tmp_path / "strata.toml"
    path.write_text(text)
    assert cli.main(["-c", str(path), "check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"strata: {path}: {key}: ")


def test_check_invalid_toml(tmp_path, capsys):
    path = tmp_path / "strata.toml"
    path.write_text("[roles.web\n")
    assert cli.main(["-c", str(path), "check"]) == 2
    assert one_error_line(capsys).startswith(f"strata: {path}: not valid TOML")


def test_check_missing_file(tmp_path, capsys):
    path = tmp_path / "absent.toml"
    assert cli.main(["-c", str(path), "check"]) == 2
    assert one_error_line(capsys).startswith(f"strata: {path}: no such file")
    assert not path.exists()


def test_error_line_is_not_wrapped(tmp_path, capsys):
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 6)
    deep.mkdir(parents=True)
    path = deep / "strata.toml"
    path.write_text(topology(web="bogus = 1"))
    assert cli.main(["-c", str(path), "check"]) == 2
    line = one_error_line(capsys)
    assert len(line) > 200
    assert line == f"strata: {path}: roles.web.bogus: unknown key"


def test_up_with_bad_config_touches_nothing(tmp_path, capsys):
    path = tmp_path / "strata.toml"
    path.write_text(topology(web="https_port = 70000"))
    assert cli.main(["-c", str(path), "up"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"strata: {path}: roles.web.https_port: ")
    assert [p.name for p in tmp_path.iterdir()] == ["strata.toml"]


def test_up_refuses_a_port_in_use_before_writing_anything(tmp_path, capsys):
    app, http, db, busy = free_ports(2, 1, 1, 1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", busy))
        blocker.listen(1)
        assert not port_free("127.0.0.1", busy)
        assert all(port_free("127.0.0.1", p) for p in (app, app + 1, http, db))
        path = tmp_path / "strata.toml"
        path.write_text(
            topology(
                web=f"http_port = {http}\nhttps_port = {busy}",
                app=f"port = {app}\ninstances = 2",
                db=f"port = {db}",
            )
        )
        assert cli.main(["-c", str(path), "up"]) == 2
    line = one_error_line(capsys)
    assert line == (
        f"strata: {path}: roles.web.https_port: port {busy} on 127.0.0.1 is already in use by another process"
    )
    assert not (tmp_path / "var" / "run" / "supervisor.sock").exists()
    assert not (tmp_path / "var").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["strata.toml"]


def test_up_names_the_app_instance_port_in_use(tmp_path, capsys):
    app, http, https, db = free_ports(2, 1, 1, 1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", app + 1))
        blocker.listen(1)
        path = tmp_path / "strata.toml"
        path.write_text(
            topology(
                web=f"http_port = {http}\nhttps_port = {https}",
                app=f"port = {app}\ninstances = 2",
                db=f"port = {db}",
            )
        )
        assert cli.main(["-c", str(path), "up"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"strata: {path}: roles.app.port (instance 2): port {app + 1} on 127.0.0.1 ")
    assert not (tmp_path / "var").exists()


def test_drill_refuses_unknown_drills_and_a_production_site(tmp_path, capsys):
    path = tmp_path / "strata.toml"
    path.write_text(topology())
    assert cli.main(["-c", str(path), "drill", "app-kil"]) == 2
    line = one_error_line(capsys)
    assert "unknown drill 'app-kil'" in line
    assert "app-kill, db-restart, domain-down, comms-down, files-down, backup-restore, upgrade or all" in line
    path.write_text(topology(site="production = true"))
    assert cli.main(["-c", str(path), "drill", "all"]) == 2
    line = one_error_line(capsys)
    assert "site.production" in line
    assert "--yes-really" in line
    assert not (tmp_path / "var").exists()  # refused before anything was made


def test_lab_drill_needs_a_lab_and_sees_each_role_from_its_host(tmp_path, capsys):
    from strata.deploy.lab import drill as labdrill
    from strata.deploy.lab import run as labrun
    from strata.deploy.lab import topology as labtopo

    assert cli.main(["lab", "drill", "all", "--dir", str(tmp_path / "nolab")]) == 2
    assert "no lab here" in one_error_line(capsys)
    # A recorded lab's drills see the site at the web host's address, each role's host's var/ tree.
    subnet = labtopo.slices()[5]
    (tmp_path / "strata.toml").write_text(labtopo.default_topology(subnet))
    hosts = {
        n: labrun.LabHost(n, "", f"ns-{n}", f"v-{n}", str(tmp_path / "hosts" / n))
        for n in ("web", "app1", "app2", "db", "comms", "domain", "files")
    }
    lab = labrun.Lab(str(tmp_path), "abc", str(subnet), "br", labtopo.bridge_address(subnet), hosts)
    view = labdrill.views(lab)
    config = lab.config()
    web = config.host_of("web").address
    assert view("db").url() == f"https://{web}:{config.roles['web']['https_port']}/"
    assert view("db").var_dir == tmp_path / "hosts" / "db"
    assert view("app").var_dir == tmp_path / "hosts" / "app1"  # the first app host's app-1 is killed
    assert view("comms").ca_cert == lab.ca()
    assert view("app").app_instances()[0].host.name == "app1"


def test_drill_report_says_pass_or_fail_against_each_target(tmp_path):
    from strata.deploy import drill

    ok = drill.Result(
        "app-kill", "SIGKILL app-1", {"failed": 0, "recovery_s": 1.2}, drill.TARGETS["app-kill"], 90
    )
    bad = drill.Result("db-restart", "stop db", {"failed": 3}, drill.TARGETS["db-restart"], 80)
    assert (ok.passed, bad.passed) == (True, False)  # a measure missing counts as failed too
    report = drill.write_report([ok, bad], tmp_path)
    text = report.read_text()
    assert (
        "| app-kill | SIGKILL app-1 | 90 | failed 0, recovery_s 1.2 | failed <= 0, recovery_s <= 10 | pass |"
        in text
    )
    assert text.count("| FAIL |") == 1
    drill.write_report([ok], tmp_path)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [len(json.loads(line)["results"]) for line in lines] == [2, 1]


@pytest.mark.parametrize("code_dir", ["nowhere", "empty"])
def test_check_code_dir_must_hold_a_release(tmp_path, capsys, code_dir):
    (tmp_path / "empty").mkdir()
    path = tmp_path / "strata.toml"
    path.write_text(topology(site=f'code_dir = "{code_dir}"'))
    assert cli.main(["-c", str(path), "check"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"strata: {path}: site.code_dir: ")
    assert "no strata/__init__.py" in line
