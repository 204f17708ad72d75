"""The Ansible playbook deploys the six-role lab from nothing, over SSH, and a second run changes nothing.

The lab's namespaces are built without the lab's own firewalls and without starting any role; each host
gets a private sshd on its own address. `strata deploy --inventory` then runs the playbook with
strata_supervisor=supervisord (the lab has no systemd), an install dir in the test's temp dir, which every
host sees (the first host installs, the others find it done), and one strata_firewall_file per host: what
guards the hosts afterwards is the firewall Ansible installed, and `lab check` measures it (SSH open to the
control node, the bridge's address, only: the default management network).
Everything is torn down even when a test fails: each sshd by its PID, then the lab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import drill, firewall, playbook
from strata.deploy.lab import check as labcheck
from strata.deploy.lab import run as labrun
from strata.deploy.lab import ssh as labssh
from strata.deploy.roles.monitor.spec import targets
from tests.support.client import Client, text_of
from tests.support.stack import IN_CI, make_root, require_servers
from tests.support.waits import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.integration]

# The monitor role shares a host: the playbook's last play, and every host's node exporter.
MONITOR_HOST = "comms"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def require_tools() -> None:
    require_servers()
    missing = [t for t in ("ip", "nft", "ssh", labssh.SSHD) if not shutil.which(t)]
    if missing:
        message = f"{', '.join(missing)} not installed (make test installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def deploy(
    lab: labrun.Lab, inventory: Path, install: Path, log: Path, *more: str
) -> tuple[int, dict[str, dict], float]:
    """Run `strata deploy --inventory` (MORE: more arguments) from the control node; return its exit code,
    the recap per host and the time it took."""
    env = {k: v for k, v in os.environ.items() if k not in ("STRATA_HOST", "STRATA_VAR_DIR", "STRATA_CONFIG")}
    start = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "strata.deploy.cli.main",
                "-c",
                str(lab.config_path),
                "deploy",
                "--inventory",
                str(inventory),
                "-e",
                "strata_supervisor=supervisord",
                "-e",
                f"strata_install_dir={install}",
                *more,
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=1500,
        )
    took = time.monotonic() - start
    recap = {
        m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
        for m in RECAP.findall(log.read_text())
    }
    return proc.returncode, recap, took


@pytest.fixture(scope="module")
def site():
    require_tools()
    root = make_root("strata-ansible-")
    lab_dir, install = root / "lab", root / "opt"
    sshds = []
    lab = None
    try:
        start = time.monotonic()
        lab = labssh.network_up(
            lab_dir,
            options={
                "app": {"instances": 1, "workers": 2},
                "domain": {"sync_seconds": 86400},
                "files": {"pitr": True},
            },
            firewalls=False,
            extra_roles={"monitor": [MONITOR_HOST]},
        )
        keys = labssh.make_keys(root / "ssh", lab)
        for host in lab.hosts:
            sshds.append(labssh.start_sshd(lab, host, keys))
        print(f"\nlab network and {len(sshds)} sshds up in {time.monotonic() - start:.1f}s")
        inventory = playbook.write_inventory(
            lab.config(),
            root / "hosts.yml",
            host_vars={
                h: {
                    "strata_var_dir": lab.hosts[h].var,
                    "strata_firewall_file": str(root / "nft" / f"{h}.nft"),
                    # The hosts share this machine's filesystem: each its own command, none in /usr/local.
                    "strata_command": str(Path(lab.hosts[h].var) / "strata"),
                }
                for h in lab.hosts
            },
            group_vars={
                "ansible_ssh_private_key_file": str(keys.client_key),
                "ansible_ssh_common_args": labssh.ssh_args(keys),
                "strata_shared_filesystem": True,
            },
        )
        code, recap, took = deploy(lab, inventory, install, root / "deploy-1.log")
        print(f"first `strata deploy`: {took:.1f}s")
        yield {
            "lab": lab,
            "root": root,
            "install": install,
            "inventory": inventory,
            "code": code,
            "recap": recap,
            "log": root / "deploy-1.log",
        }
    finally:
        for proc in sshds:
            labssh.stop_sshd(proc)
        problems = labrun.down(lab_dir) if lab is not None else []
        shutil.rmtree(root, ignore_errors=True)
        assert not problems, problems


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text().splitlines()[-n:])


def test_first_run_deploys_every_host(site):
    lab, recap = site["lab"], site["recap"]
    assert site["code"] == 0, _tail(site["log"])
    assert set(recap) == set(lab.hosts), recap
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    assert all(r["changed"] > 0 for r in recap.values()), recap
    # One install, seen by every host; each host has its own var/ tree with its share of the secrets (root's
    # only) and no CA key: that stays on the control node.
    assert (site["install"] / "venv" / "bin" / "strata").exists()
    config = lab.config()
    with (lab.shared / "secrets.toml").open("rb") as fh:
        control_secrets = tomllib.load(fh)
    for name, host in lab.hosts.items():
        secrets = Path(host.var) / "secrets.toml"
        assert secrets.stat().st_mode & 0o777 == 0o600
        assert secrets.stat().st_uid == 0
        with secrets.open("rb") as fh:
            held = tomllib.load(fh)
        assert set(held) == set(cfgmod.host_secret_keys(config, name)) & set(control_secrets), name
        assert not (Path(host.var) / "pki" / "ca.key").exists(), name
    assert (lab.shared / "pki" / "ca.key").exists()
    # The first admin's password: printed once by `strata deploy` on the control, never in Ansible's output.
    log = site["log"].read_text()
    assert log.count(control_secrets["admin_password"]) == 1, "the password is printed exactly once"
    line = next(ln for ln in log.splitlines() if control_secrets["admin_password"] in ln)
    assert line.startswith("Admin account"), line


def test_each_host_runs_its_own_roles(site):
    lab = site["lab"]
    config = lab.config()
    for name in lab.hosts:
        running = lab.supervisor(name).running_programs()
        roles = {p.split("-")[0] for p in running}
        assert set(config.roles_on(name)) <= roles | {"worker"}, (name, running)
        assert running, name


def test_every_flow_of_the_matrix_works_and_every_other_is_blocked(site):
    lab = site["lab"]
    for host in lab.hosts.values():
        listed = lab.run_in(host.name, ["nft", "list", "tables"], timeout=30).stdout.split()
        assert firewall.TABLE in listed, (host.name, listed)
        assert firewall.LAB_TABLE not in listed, (host.name, listed)
        assert (site["root"] / "nft" / f"{host.name}.nft").exists()
    flows = labcheck.check(lab)
    wrong = [f for f in flows if not f.as_expected]
    allowed = [f for f in flows if f.expected]
    print(f"\n{len(flows)} flows checked after `strata deploy`: {len(allowed)} allowed, the rest blocked")
    assert not wrong, wrong
    assert allowed
    assert len(allowed) < len(flows)
    # The blocked ones were dropped by the deployed policy, and counted.
    described = {h: firewall.describe(lab.hosts[h].netns) for h in lab.hosts}
    dropped = {
        h: re.fullmatch(r"strata nftables \(\d+ rules, (\d+) packets dropped\)", d)
        for h, d in described.items()
    }
    assert all(dropped.values()), described
    assert int(dropped[lab.config().host_of("db").name][1]) > 0, described


def test_ssh_is_open_to_the_control_node_only(site):
    lab = site["lab"]
    config = lab.config()
    web, db = config.hosts_of("web")[0], config.host_of("db")
    probe = (
        "import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], 22), timeout=2).close()\n"
        "    print('open')\nexcept OSError:\n    print('blocked')\n"
    )
    # Another lab host may not reach a host's sshd: the firewall `strata deploy` installed opens port 22 to
    # the management network only, by default the address it ran from (the bridge's).
    out = lab.run_in(db.name, [sys.executable, "-c", probe, web.address], timeout=30).stdout.strip()
    assert out == "blocked"
    here = subprocess.run(
        [sys.executable, "-c", probe, web.address], capture_output=True, text=True, timeout=30
    )
    assert here.stdout.strip() == "open"


def test_login_through_the_web_host(site):
    lab = site["lab"]
    config = lab.config()
    with (lab.shared / "secrets.toml").open("rb") as fh:
        password = tomllib.load(fh)["admin_password"]
    web = config.hosts_of("web")[0]
    c = Client(f"https://{web.address}:{config.roles['web']['https_port']}", lab.ca())
    resp = c.login(config.site["admin_username"], password)
    assert resp.status == 200, (resp.status, text_of(resp.text)[:300])
    assert "/people/" in resp.url, (resp.status, text_of(resp.text)[:300])


def test_status_is_all_ok(site):
    lab = site["lab"]
    proc = subprocess.run(
        [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(lab.config_path), "status"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " down " not in proc.stdout, proc.stdout
    assert "fallback in use" not in proc.stdout, proc.stdout
    for host in lab.hosts:
        assert re.search(
            rf"^firewall on {host}: strata nftables \(\d+ rules, \d+ packets dropped\)$", proc.stdout, re.M
        ), proc.stdout


def test_the_db_host_archives_its_wal_to_the_file_server_by_name(site):
    """pgBackRest on the db host reaches the file server by the name in its certificate, which the playbook
    put in the db host's /etc/hosts; the admin's `strata backup` there checks and reports the archive."""
    lab = site["lab"]
    config = lab.config()
    db, files = config.host_of("db").name, config.host_of("files")
    hosts_file = (labrun.NETNS_ETC / lab.hosts[db].netns / "hosts").read_text()
    assert f"{files.address} files-s3.{config.site['domain']}" in hosts_file
    assert "# BEGIN Strata" in hosts_file
    command = str(Path(lab.hosts[db].var) / "strata")

    def archived() -> str | None:
        proc = lab.run_in(db, [command, "backup"], timeout=300, check=False)
        return proc.stdout if proc.returncode == 0 and "archive: ok, " in proc.stdout else None

    out = wait_for(archived, timeout=180, interval=3, what="the db host's archive to be ok")
    print(f"\n{out}")
    assert "run `strata backup` on an app host" in out
    # Another host has no such name (nothing else connects by it).
    app = config.hosts_of("app")[0].name
    assert "files-s3" not in (labrun.NETNS_ETC / lab.hosts[app].netns / "hosts").read_text()


def test_the_monitor_scrapes_every_role_of_every_host(site):
    lab = site["lab"]
    config = lab.config()
    expected = {(t.job, t.host) for t in targets(config)}
    assert {job for job, _h in expected} >= {"app", "db", "web", "files", "comms", "domain", "node"}
    assert {h for job, h in expected if job == "node"} == set(lab.hosts)
    # Asked on the monitor's own host: Prometheus's port is open to the app hosts only.
    url = f"http://{config.hosts[MONITOR_HOST].address}:{config.roles['monitor']['port']}/api/v1/targets"
    probe = (
        "import json, sys, urllib.request\n"
        "answer = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))\n"
        "print(json.dumps([[t['labels']['job'], t['labels'].get('host', ''), t['health'], t['lastError']]"
        " for t in answer['data']['activeTargets']]))\n"
    )
    deadline, seen = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        out = lab.run_in(MONITOR_HOST, [sys.executable, "-c", probe, url], timeout=30, check=False)
        seen = json.loads(out.stdout) if out.returncode == 0 else [["?", "?", "?", out.stderr[-300:]]]
        if len(seen) == len(expected) and all(health == "up" for _j, _h, health, _e in seen):
            break
        time.sleep(3)
    assert len(seen) == len(expected), seen
    assert all(health == "up" for _j, _h, health, _e in seen), seen


def test_second_run_changes_nothing(site):
    assert site["code"] == 0, "the first run failed"
    code, recap, took = deploy(site["lab"], site["inventory"], site["install"], site["root"] / "deploy-2.log")
    print(f"\nsecond `strata deploy`: {took:.1f}s")
    assert code == 0, _tail(site["root"] / "deploy-2.log")
    with (site["lab"].shared / "secrets.toml").open("rb") as fh:
        password = tomllib.load(fh)["admin_password"]
    assert password not in (site["root"] / "deploy-2.log").read_text()  # shown once, on the first run
    assert set(recap) == set(site["lab"].hosts)
    assert {h: r["changed"] for h, r in recap.items()} == dict.fromkeys(recap, 0), _tail(
        site["root"] / "deploy-2.log", 80
    )


def test_rolling_deploy_restarts_every_app_server_with_no_failed_request(site):
    """`strata deploy --rolling` under a steady load of logged-in page GETs through the web host: every
    app server restarted (the same release: it restarts them anyway), not one request failed."""
    assert site["code"] == 0, "the first run failed"
    lab = site["lab"]
    config = lab.config()
    instances = [(i.host.name, i.name) for i in config.app_instances()]
    assert len({h for h, _n in instances}) >= 2  # one app host serves while the other restarts
    before = {(h, n): lab.supervisor(h).pid(n) for h, n in instances}
    with (lab.shared / "secrets.toml").open("rb") as fh:
        password = tomllib.load(fh)["admin_password"]
    web = config.hosts_of("web")[0]
    sessions = [drill.Session(config) for _ in range(drill.THREADS)]
    for s in sessions:
        s.base = f"https://{web.address}:{config.roles['web']['https_port']}"  # the lab's domain is localhost
        assert s.login(config.site["admin_username"], password) == 200
    log = site["root"] / "deploy-rolling.log"
    with drill.Load(sessions) as load:
        time.sleep(1)
        code, recap, took = deploy(lab, site["inventory"], site["install"], log, "--rolling")
        time.sleep(1)
    seen = load.answers()
    failed = sorted(status for _t, status, _r in seen if status != 200)
    print(f"\n`strata deploy --rolling`: {took:.1f}s, {len(seen)} requests meanwhile, {len(failed)} failed")
    assert code == 0, _tail(log, 80)
    assert set(recap) == set(lab.hosts), recap
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    assert len(seen) > 20, len(seen)
    assert not failed, failed
    for host, name in instances:
        assert lab.supervisor(host).pid(name) not in (0, before[host, name]), (host, name)
