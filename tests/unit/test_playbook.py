"""`strata deploy`: the inventory from the topology, the packed release, the playbook's command line, and
the playbook itself (ansible-playbook --syntax-check, ansible-inventory)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import packages, playbook
from strata.deploy.cli import main as cli

TOPOLOGY = """
[site]
var_dir = "shared"

[hosts.front]
address = "198.18.0.2"

[hosts.app1]
address = "198.18.0.3"

[hosts.app2]
address = "198.18.0.4"

[hosts.data]
address = "198.18.0.5"

[hosts.spare]
address = "198.18.0.6"

[roles.web]
hosts = ["front"]

[roles.app]
hosts = ["app2", "app1"]

[roles.db]
hosts = ["data"]

[roles.files]
hosts = ["data"]

[roles.comms]
hosts = ["front"]
enabled = false
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY)
    return cfgmod.load(path)


def test_inventory_groups_hosts_by_role_in_topology_order(config):
    inv = playbook.inventory(config, host_vars={"app1": {"strata_var_dir": "/x"}}, group_vars={"a": 1})
    groups = inv["all"]["children"]
    assert inv["all"]["vars"] == {"ansible_user": "root", "a": 1}
    # A host without a role is left out; every other one is reached at its topology address.
    assert groups["strata"]["hosts"] == {
        "front": {"ansible_host": "198.18.0.2"},
        "app1": {"ansible_host": "198.18.0.3", "strata_var_dir": "/x"},
        "app2": {"ansible_host": "198.18.0.4"},
        "data": {"ansible_host": "198.18.0.5"},
    }
    # The first app host of the topology (it migrates the database) comes first in its group.
    assert list(groups["strata_app"]["hosts"]) == ["app2", "app1"]
    assert list(groups["strata_db"]["hosts"]) == list(groups["strata_files"]["hosts"]) == ["data"]
    assert "strata_comms" not in groups
    assert "strata_domain" not in groups


def _ansible_env():
    return playbook.ansible_env()


def test_written_inventory_is_what_ansible_reads(config, tmp_path):
    inv = playbook.write_inventory(config, tmp_path / "inv" / "hosts.yml")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inv), "--list"],
        capture_output=True,
        text=True,
        env=_ansible_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert listed["strata_app"]["hosts"] == ["app2", "app1"]
    assert listed["_meta"]["hostvars"]["data"]["ansible_host"] == "198.18.0.5"


def test_cli_writes_the_inventory(config, tmp_path, capsys):
    target = tmp_path / "hosts.yml"
    assert cli.main(["-c", str(config.path), "deploy", "--write-inventory", str(target)]) == 0
    assert "strata_web" in json.loads(target.read_text().split("\n", 1)[1])["all"]["children"]
    assert "strata deploy --inventory" in capsys.readouterr().out


def test_cli_refuses_a_missing_inventory_in_one_line(config, tmp_path, capsys):
    code = cli.main(["-c", str(config.path), "deploy", "--inventory", str(tmp_path / "nope.yml")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("strata: ")
    assert "nope.yml" in err
    assert "\n" not in err
    assert not (config.path.parent / "shared").exists()  # nothing made before the check


def test_cli_refuses_a_bad_topology_in_one_line(tmp_path, capsys):
    bad = tmp_path / "strata.toml"
    bad.write_text(
        TOPOLOGY.replace('hosts = ["data"]\n\n[roles.files]', 'hosts = ["nowhere"]\n\n[roles.files]')
    )
    code = cli.main(["-c", str(bad), "deploy", "--write-inventory", str(tmp_path / "hosts.yml")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "roles.db.hosts" in err
    assert "\n" not in err
    assert not (tmp_path / "hosts.yml").exists()


def test_source_pack_is_reproducible_and_holds_only_the_project():
    first = playbook.pack_source()
    assert playbook.pack_source() == first  # same tree, same bytes, same name: Ansible copies nothing
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    assert "strata/deploy/config.py" in names
    assert "pyproject.toml" in names
    assert "deploy/ansible/site.yml" not in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("var/", ".venv/", "tests/"))]


def test_requirements_are_the_pinned_dependencies_and_the_build_backend():
    reqs = playbook.requirements()
    assert "ansible-core==2.19.14" in reqs
    assert any(r.startswith("setuptools") for r in reqs)
    assert all("==" in r for r in reqs if not r.startswith("setuptools"))


def test_ansible_writes_only_under_the_projects_var():
    env = playbook.ansible_env()
    var = playbook.PROJECT / "var" / "ansible"
    for key in ("ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP", "ANSIBLE_REMOTE_TEMP", "ANSIBLE_SSH_CONTROL_PATH_DIR"):
        assert Path(env[key]).is_relative_to(var), key
    assert env["ANSIBLE_CONFIG"] == str(playbook.PLAYBOOK_DIR / "ansible.cfg")


@pytest.mark.parametrize(("rolling", "name"), [(False, "site.yml"), (True, "upgrade.yml")])
def test_playbook_passes_ansibles_syntax_check(config, tmp_path, rolling, name):
    inv = playbook.write_inventory(config, tmp_path / "hosts.yml")
    bundle = playbook.Bundle(
        config.path, tmp_path, tmp_path / "strata-src-0.tar.gz", tmp_path / "wheels-0.tar"
    )
    argv = playbook.playbook_command(inv, bundle, ["strata_supervisor=supervisord"], rolling=rolling)
    assert argv[-1] == str(playbook.PLAYBOOK_DIR / name)
    assert "strata_supervisor=supervisord" in argv
    proc = subprocess.run(
        [*argv[:-1], "--syntax-check", argv[-1]],
        capture_output=True,
        text=True,
        env=_ansible_env(),
        cwd=playbook.PLAYBOOK_DIR,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_debian_packages_come_from_the_role_specs(tmp_path):
    bundle = playbook.Bundle(tmp_path, tmp_path, tmp_path / "src.tar.gz", tmp_path / "wheels.tar")
    role_packages = bundle.extra_vars()["strata_role_packages"]
    assert role_packages["db"] == ["postgresql-15", "pgbackrest", "prometheus-postgres-exporter"]
    assert role_packages["web"] == ["nginx", "prometheus-nginx-exporter"]
    assert role_packages["monitor"] == ["prometheus", "prometheus-node-exporter"]
    assert "libldap-2.5-0" in bundle.extra_vars()["strata_host_packages"]
    assert "prometheus-node-exporter" not in bundle.extra_vars()["strata_host_packages"]
    # bootstrap.sh lists them with Debian's python3 before the venv exists: no site-packages (-S).
    proc = subprocess.run(
        ["/usr/bin/python3", "-S", "-m", "strata.deploy.packages", "test"],
        capture_output=True,
        text=True,
        cwd=playbook.PROJECT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split()
    assert {"postgresql-15", "slapd", "postfix", "nginx", "chromium"} <= set(listed)
    assert len(listed) == len(set(listed))


def test_every_host_gets_the_node_exporter_while_the_monitor_is_on(tmp_path):
    path = tmp_path / "strata.toml"
    path.write_text(TOPOLOGY)
    assert "prometheus-node-exporter" not in packages.host_packages(cfgmod.load(path))
    path.write_text(TOPOLOGY + '\n[roles.monitor]\nhosts = ["spare"]\n')
    config = cfgmod.load(path)
    assert "prometheus-node-exporter" in packages.host_packages(config)
    inv = playbook.inventory(config)
    assert list(inv["all"]["children"]["strata_monitor"]["hosts"]) == ["spare"]
