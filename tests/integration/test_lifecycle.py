"""A stack of its own: `strata up` from the CLI, then `strata down` leaves no process and no port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import local as deploy
from strata.deploy.supervisor import Supervisor
from tests.support.stack import (
    all_optional_roles_toml,
    descendants,
    make_root,
    port_is_free,
    require_servers,
    write_topology,
)

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def strata(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def root():
    require_servers()
    path = make_root("strata-life-")
    try:
        yield path
    finally:
        deploy.down(path / "strata.toml") if (path / "strata.toml").exists() else None
        shutil.rmtree(path, ignore_errors=True)


def test_up_then_down_leaves_nothing_running(root):
    """All six roles, as `make up` runs them by default."""
    path = write_topology(root, extra=all_optional_roles_toml())
    up = strata("-c", str(path), "up")
    assert up.returncode == 0, up.stdout + up.stderr
    config = cfgmod.load(path)
    assert config.url() in up.stdout
    assert "Admin account created" in up.stdout  # printed on the first run only
    assert cfgmod.load_secrets(config)["admin_password"] in up.stdout
    assert "fallback in use" not in up.stdout

    sup = Supervisor(config.var_dir)
    daemon = int(sup.pidfile.read_text())
    pids = descendants(daemon)
    # supervisord, postgres, 2 x (gunicorn + 2 workers), task worker, nginx x2, slapd, postfix, weed
    assert len(pids) >= 1 + 1 + 2 * 3 + 1 + 2 + 3
    ports = [port for _, _, port, _ in cfgmod.port_bindings(config)]
    assert not any(port_is_free(p) for p in ports)

    again = strata("-c", str(path), "up")
    assert again.returncode == 0, again.stderr
    assert "Admin account created" not in again.stdout

    status = strata("-c", str(path), "status")
    assert status.returncode == 0, status.stdout
    assert "fallback in use" not in status.stdout, status.stdout
    assert status.stdout.count(" ok ") >= 6 + 5
    # `make up` installs no firewall: the admin's (this machine's root namespace has no Strata table).
    assert "firewall on local: none (managed by the admin)" in status.stdout, status.stdout

    down = strata("-c", str(path), "down")
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert [p for p in pids if alive(p)] == []
    assert all(port_is_free(p) for p in ports)
    assert strata("-c", str(path), "down").stdout.strip() == "nothing was running"
    status = strata("-c", str(path), "status")
    assert status.returncode == 1
    assert "down" in status.stdout


def test_taken_port_and_bad_config_stop_before_anything_starts(root):
    path = write_topology(root)
    config = cfgmod.load(path)
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", config.roles["db"]["port"]))
        blocker.listen()
        run = strata("-c", str(path), "up")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert "roles.db.port" in run.stderr
    assert str(config.roles["db"]["port"]) in run.stderr
    assert run.stdout == ""
    assert not config.var_dir.exists()

    path.write_text(path.read_text().replace("[roles.db]", "[roles.db]\nflavour = 'mysql'"))
    run = strata("-c", str(path), "up")
    assert run.returncode == 2
    assert run.stderr.strip() == f"strata: {path}: roles.db.flavour: unknown key"
    assert not config.var_dir.exists()
