"""`make up` in install mode from a clone inside a 0700 directory (a new admin's home on Debian 12): the code
and venv under <prefix>/opt/strata, the topology in <prefix>/etc/strata, the state in <prefix>/var/lib/strata
and the logs in <prefix>/var/log/strata (STRATA_PREFIX keeps the machine's own /opt/strata untouched);
nothing is written into the checkout, and `make down` leaves no process."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy.install import Layout
from strata.deploy.supervisor import Supervisor
from tests.support.client import Client
from tests.support.stack import REPO, make_root, require_servers, write_topology

pytestmark = pytest.mark.integration


def _make(checkout: Path, target: str, prefix: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DEV", "STRATA_CONFIG", "STRATA_VAR_DIR")}
    env[cfgmod.ENV_PREFIX] = str(prefix)
    return subprocess.run(
        ["make", "-s", target], cwd=checkout, env=env, capture_output=True, text=True, timeout=900
    )


def _pip_times(output: str) -> list[str]:
    """Return the lines where the install said how long pip took."""
    return [line.removeprefix("strata: ") for line in output.splitlines() if line.startswith("strata: pip ")]


def _processes_under(prefix: Path) -> list[str]:
    """Return the command lines of the processes that name PREFIX (the site's servers do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(prefix) in cmd:
                found.append(f"{entry.name}: {cmd}")
    return found


def _write_site_config(layout: Layout) -> Path:
    """Write <prefix>/etc/strata/strata.toml: one app server on free ports, var and logs in the layout."""
    path = write_topology(layout.prefix, instances=1)
    text = path.read_text().replace('var_dir = "var"', f'var_dir = "{layout.var}"\nlog_dir = "{layout.log}"')
    path.unlink()
    layout.etc.mkdir(parents=True)
    layout.config.write_text(text)
    return layout.config


def test_make_up_installs_from_a_checkout_in_a_0700_home():
    require_servers()
    if not shutil.which("git"):
        pytest.fail("git is not installed")
    home = Path(tempfile.mkdtemp(prefix="strata-home-"))  # mode 0700, like /root or a Debian home
    assert (home.stat().st_mode & 0o777) == 0o700
    prefix = make_root("strata-prefix-")
    layout = Layout(prefix)
    checkout = home / "strata"
    subprocess.run(["git", "clone", "-q", str(REPO), str(checkout)], check=True, timeout=120)
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    config = cfgmod.load(_write_site_config(layout))
    try:
        started = time.monotonic()
        up = _make(checkout, "up", prefix)
        first_up = time.monotonic() - started
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "install mode" in up.stderr
        print(f"first make up (venv included): {first_up:.1f}s;", *_pip_times(up.stdout))

        # The site answers over HTTPS, its CA in the state directory.
        client = Client(config.url(), layout.var / "pki" / "ca.crt")
        assert client.get("/livez").status == 200
        login = client.get("/accounts/login/")
        assert login.status == 200
        assert 'name="password"' in login.text

        # The code: a release named after the clone's commit, `current` and the `strata` command on it.
        assert layout.current.resolve() == layout.releases / head[:12]
        assert (layout.current / "strata" / "deploy" / "install.py").is_file()
        assert os.readlink(layout.command) == str(layout.venv / "bin" / "strata")
        assert stat_mode(layout.releases / head[:12]) == 0o755

        # The servers run the installed venv's Python, from the release.
        sup = Supervisor(config.var_dir, config.log_dir)
        for name in ("app-1", "worker", "events"):
            pid = sup.pid(name)
            assert pid, f"{name} is not running"
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert argv[0].decode().startswith(str(layout.venv / "bin")), (name, argv)
            assert Path(f"/proc/{pid}/cwd").resolve() == layout.releases / head[:12], name

        # Logs in the log directory, none under the state directory; nothing written into the checkout.
        for log in ("app/app-1.log", "app/worker.log", "db/db.log", "supervisor/supervisord.log"):
            assert (layout.log / log).is_file(), log
        assert not (layout.var / "log").exists()
        status = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--ignored"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert status.stdout == "", status.stdout
        assert not (checkout / "var").exists()
        assert not (checkout / ".venv").exists()

        # Again with no change: nothing reinstalled, nothing restarted.
        started = time.monotonic()
        again = _make(checkout, "up", prefix)
        print(f"second make up (no change): {time.monotonic() - started:.1f}s")
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert "already installed: nothing to do" in again.stdout
        assert "unchanged" in again.stdout

        status_run = _make(checkout, "status", prefix)
        assert status_run.returncode == 0, status_run.stdout[-2000:] + status_run.stderr[-2000:]

        # Upgrading the code is `make up` from a newer checkout: a new release, `current` switched, the
        # app's servers restarted from it, the old release kept.
        app_pid = sup.pid("app-1")
        (checkout / "README.md").write_text((checkout / "README.md").read_text() + "\nNewer.\n")
        git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "commit", "-qam", "newer"], check=True, timeout=60)
        newer = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        started = time.monotonic()
        upgrade = _make(checkout, "up", prefix)
        print(f"make up of a newer commit: {time.monotonic() - started:.1f}s;", *_pip_times(upgrade.stdout))
        assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
        new_release = layout.releases / newer.stdout.strip()[:12]
        assert layout.current.resolve() == new_release
        assert (new_release / "README.md").read_text().endswith("Newer.\n")
        assert (layout.releases / head[:12]).is_dir()
        assert sup.pid("app-1") not in (0, app_pid)
        assert Path(f"/proc/{sup.pid('app-1')}/cwd").resolve() == new_release
        assert client.get("/livez").status == 200
    finally:
        down = _make(checkout, "down", prefix)
        if down.returncode != 0:
            Supervisor(config.var_dir).shutdown()
    try:
        assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
        assert "stopped" in down.stdout
        deadline = time.monotonic() + 10
        while _processes_under(prefix) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_under(prefix) == []
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(prefix, ignore_errors=True)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
