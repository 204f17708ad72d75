"""The strata_firewall Ansible role on its own, inside a network namespace of the test's (Ansible's local
connection): it loads the file, changes nothing the second time, loads it again when the table went away,
and `--no-firewall` (strata_firewall=false) removes Strata's table and file but no other table."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strata.deploy import firewall, playbook
from tests.support.stack import IN_CI
from tests.unit.test_firewall import MANAGEMENT, topology

pytestmark = [pytest.mark.lab, pytest.mark.integration]

RECAP = re.compile(r"^web\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        message = "network namespaces and nftables need root (make test runs as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"strata-fwrole-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=30)
    try:
        yield name
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def nft(netns: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", *args], capture_output=True, text=True, timeout=30
    )


def run_role(netns: str, tmp: Path, **extra) -> dict[str, int]:
    """Run the role against "web" in NETNS; return its recap."""
    (tmp / "play.yml").write_text(
        "---\n- name: Firewall only\n  hosts: strata\n  gather_facts: false\n"
        "  roles:\n    - strata_firewall\n"
    )
    (tmp / "hosts.yml").write_text(
        json.dumps({"strata": {"hosts": {"web": {"ansible_connection": "local"}}}})
    )
    variables = {
        "strata_supervisor": "supervisord",
        "strata_firewall_file": str(tmp / "etc" / "strata.nft"),
        "strata_firewall_files": {"web": str(tmp / "web.nft")},
        **extra,
    }
    (tmp / "vars.json").write_text(json.dumps(variables))
    proc = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(tmp / "hosts.yml"),
            "-e",
            f"@{tmp / 'vars.json'}",
            str(tmp / "play.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**playbook.ansible_env(), "ANSIBLE_ROLES_PATH": str(playbook.PLAYBOOK_DIR / "roles")},
    )
    found = RECAP.search(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert found, proc.stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups()), strict=True))


def test_role_loads_once_reloads_a_missing_table_and_removes_only_its_own(netns, tmp_path):
    config = topology()
    (tmp_path / "web.nft").write_text(firewall.render(config, "front", management=[MANAGEMENT]))
    # An admin's own table, which Strata must never touch.
    assert nft(netns, "add", "table", "inet", "admin").returncode == 0

    assert run_role(netns, tmp_path)["changed"] == 3  # its directory, the file, and loading it
    assert firewall.describe(netns).startswith("strata nftables (")
    assert (tmp_path / "etc" / "strata.nft").read_text() == (tmp_path / "web.nft").read_text()
    assert run_role(netns, tmp_path)["changed"] == 0

    assert nft(netns, "delete", "table", "inet", firewall.TABLE).returncode == 0
    assert run_role(netns, tmp_path)["changed"] == 1  # loaded again, the file unchanged
    assert firewall.describe(netns).startswith("strata nftables (")

    # A file nft refuses is never installed, and the loaded policy stays.
    (tmp_path / "web.nft").write_text("table inet strata { chain input { nonsense } }\n")
    with pytest.raises(AssertionError, match="nft -c"):
        run_role(netns, tmp_path)
    assert "nonsense" not in (tmp_path / "etc" / "strata.nft").read_text()

    assert run_role(netns, tmp_path, strata_firewall=False)["changed"] == 2  # the table and the file
    assert firewall.describe(netns) == "none (managed by the admin)"
    assert not (tmp_path / "etc" / "strata.nft").exists()
    assert nft(netns, "list", "table", "inet", "admin").returncode == 0
    assert run_role(netns, tmp_path, strata_firewall=False)["changed"] == 0
